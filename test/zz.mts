import { readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from './support/containers.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
const sb = new Sandbox();
try {
  const rootfs = join(sb.dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  symlinkSync('usr/lib', join(rootfs, 'lib'));
  symlinkSync('usr/lib64', join(rootfs, 'lib64'));
  writeFileSync(join(rootfs, 'attack'), ['#!/proc/self/exe', 'console.log(require("fs").readlinkSync("/proc/self/exe"))'].join('\n'), { mode: 0o755 });
  const bundle = sb.bundle(['/attack'], (s) => {
    s.root = { path: rootfs };
    for (const dir of ['/usr/lib', '/usr/lib64']) s.mounts!.push({ destination: dir, type: 'bind', source: dir, options: ['rbind', 'ro'] });
  });
  
  const r = sb.tsrun(['--debug', 'run', '--bundle', bundle, sb.id()]);
  console.log(r.code, r.stdout, r.stderr);
} finally { sb.cleanup(); }
