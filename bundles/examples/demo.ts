// The README demo: build the layered busybox example image, turn it into an overlay bundle with
// `tsrun bundle create`, and run a container from it with `tsrun run`.
//   npm run demo            (as root; needs busybox-static)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBusyboxImage } from './busybox.js';

const tsrun = fileURLToPath(new URL('../../runtime/bin/tsrun', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tsrun-demo-'));
const sh = (cmd: string, args: string[]) => {
  process.stdout.write(`$ ${cmd === tsrun ? 'tsrun' : cmd} ${args.join(' ')}\n`);
  execFileSync(cmd, args, { stdio: 'inherit' });
};
try {
  const image = await buildBusyboxImage(join(work, 'image'), {
    cmd: ['sh', '-c', 'echo "PID $$ on $(hostname)"; cat /etc/motd; echo "/opt/app: $(ls /opt/app)"; ls /etc/issue 2>&1 | sed "s/^/whiteout: /"'],
  });
  sh(tsrun, ['bundle', 'create', '--image', image, '--overlay', '--cache', join(work, 'cache'), join(work, 'bundle')]);
  sh(tsrun, ['--root', join(work, 'state'), 'run', '--bundle', join(work, 'bundle'), 'tsrun-demo']);
} finally {
  rmSync(work, { recursive: true, force: true });
}
