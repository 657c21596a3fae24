// Regression tests for runc's container escape classes, each tried from inside a real container:
//  - CVE-2019-5736: the waiting init (the waiting-init program, or Node) is non-dumpable while in
//    the container's namespaces, so a container process cannot open /proc/1/exe; the program is a
//    sealed memfd and Node runs from a sealed (immutable) copy, so a `#!/proc/self/exe` entrypoint
//    cannot write to the binary it gets.
//  - CVE-2024-21626: no host fd reaches the container process, and a cwd through
//    /proc/self/fd/N that lands outside the container root is refused.
//  - CVE-2021-30465: mount destinations that are (or become, by a racing swap) symlinks are
//    resolved inside the rootfs.
// (CVE-2022-29162, inheritable capabilities, is in security-process.test.ts.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync, chmodSync, mkdtempSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox, TSRUN } from '../support/containers.js';
import { makeBusyboxRootfs } from '../support/busybox-rootfs.js';
import { CAPABILITIES } from '../../spec/names.js';
import type { Spec } from '../../spec/types.js';
import { linuxSys as sys } from '../../runtime/sys/linux.js';
import { F_GET_SEALS, F_SEAL, O } from '../../runtime/sys/constants.js';

const t = suite('security-escapes');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
const ALL_CAPS = CAPABILITIES.slice(0, lastCap + 1) as string[];
const USERNS_MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

/** A startContainer hook runs JavaScript in the init after `start`, so the init waits as Node. */
const WAIT_AS_NODE = (s: Spec) => {
  s.hooks = { startContainer: [{ path: '/bin/true' }] };
};
const WAITING_FORMS: [string, RegExp, (s: Spec) => void][] = [
  ['the waiting-init program', /^\/memfd:tsrun-init \(deleted\)$/, () => {}],
  ['Node (with a startContainer hook)', /node/, WAIT_AS_NODE],
];

for (const [form, exe, edit] of WAITING_FORMS) {
  t(`CVE-2019-5736: the waiting init (${form}) is non-dumpable: /proc/1/exe is closed even to a fully privileged container process`, () => {
    const id = sb.id();
    const bundle = sb.bundle(['true'], (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = USERNS_MAP;
      s.linux!.gidMappings = USERNS_MAP;
      edit(s);
    });
    const nodeBinary = readlinkSync(`/proc/self/exe`);
    const before = createHash('sha256').update(readFileSync(nodeBinary)).digest('hex');
    assert.is(sb.tsrun(['create', '--bundle', bundle, id]).code, 0);
    const init = JSON.parse(sb.tsrun(['state', id]).stdout).pid;
    assert.match(readlinkSync(`/proc/${init}/exe`), exe);

    // Every capability (CAP_SYS_PTRACE too) inside the container's user namespace.
    const proc = join(sb.dir, 'process.json');
    writeFileSync(proc, JSON.stringify({
      args: ['sh', '-c', [
        'cat /proc/1/exe > /dev/null 2>&1; echo read=$?',
        'echo x 2>/dev/null >> /proc/1/exe; echo write=$?',
        'ls /proc/1/fd > /dev/null 2>&1; echo fds=$?',
        // Control: a dumpable process in the container is readable with these capabilities, so the
        // refusals above come from the init being non-dumpable.
        'sleep 5 & cat /proc/$!/exe > /dev/null; echo control=$?; kill $!',
      ].join('; ')],
      cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'],
      capabilities: { bounding: ALL_CAPS, effective: ALL_CAPS, permitted: ALL_CAPS },
    }));
    const r = sb.tsrun(['exec', '--process', proc, id]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, 'read=1\nwrite=1\nfds=1\ncontrol=0\n');
    const after = createHash('sha256').update(readFileSync(nodeBinary)).digest('hex');
    assert.is(after, before, 'the host binary is unchanged');
  });
}

t('CVE-2019-5736: the waiting-init program is sealed, and as an interpreter it only fails', () => {
  // Its /proc/PID/exe is what a `#!/proc/self/exe` entrypoint gets: a memfd nobody may write,
  // grow or shrink, seals included (F_SEAL_SEAL), and whose program stops at once without the
  // init's exec fifo.
  const id = sb.id();
  const rootfs = join(sb.dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  writeFileSync(join(rootfs, 'attack'), '#!/proc/self/exe\n', { mode: 0o755 });
  const bundle = sb.bundle(['/attack'], (s) => {
    s.root = { path: rootfs };
  });
  const log = join(sb.dir, 'container-output');
  assert.is(sb.createLogged(id, bundle, log).code, 0, readFileSync(log, 'utf8'));
  const init = JSON.parse(sb.tsrun(['state', id]).stdout).pid;
  const fd = sys.open(`/proc/${init}/exe`, O.RDONLY | O.CLOEXEC);
  try {
    assert.is(sys.fcntl(fd, F_GET_SEALS), F_SEAL.SEAL | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.WRITE);
    assert.is(sys.fstat(fd).mode & 0o7777, 0o111, 'execute-only');
  } finally {
    sys.close(fd);
  }
  assert.is(sb.tsrun(['start', id]).code, 0);
  assert.ok(sb.waitStopped(id), 'stopped');
  assert.is(readFileSync(log, 'utf8'), 'tsrun init: start: open exec fifo: ENOENT\n');
});

t('CVE-2019-5736: with an init waiting as Node, a `#!/proc/self/exe` entrypoint runs the sealed Node, which nobody can open for writing', () => {
  // The kernel resolves the interpreter /proc/self/exe to the init's own binary: Node, run inside
  // the container (given the host's libraries). Unsealed, a write-open fails only with ETXTBSY,
  // which ends when no Node runs; the sealed copy refuses it for good (EPERM, immutable).
  const rootfs = join(sb.dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  symlinkSync('usr/lib', join(rootfs, 'lib'));
  symlinkSync('usr/lib64', join(rootfs, 'lib64'));
  writeFileSync(join(rootfs, 'attack'), [
    '#!/proc/self/exe',
    'const fs = require("fs");',
    'let rw = "ok";',
    'try { fs.openSync("/proc/self/exe", "r+"); } catch (e) { rw = e.code; }',
    'console.log(`open-rw=${rw} exe=${fs.readlinkSync("/proc/self/exe")}`);',
  ].join('\n'), { mode: 0o755 });
  const bundle = sb.bundle(['/attack'], (s) => {
    WAIT_AS_NODE(s);
    s.root = { path: rootfs };
    for (const dir of ['/usr/lib', '/usr/lib64']) s.mounts!.push({ destination: dir, type: 'bind', source: dir, options: ['rbind', 'ro'] });
  });
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^open-rw=EPERM exe=\/var\/lib\/tsrun\/exe\/[\d-]+\/node\n$/);
  // Control: the same container on the unsealed Node shows what the seal prevents.
  const unsealed = sb.tsrun(['run', '--bundle', bundle, sb.id('unsealed')], { env: { ...process.env, TSRUN_NO_SEAL: '1' } });
  assert.match(unsealed.stdout, /^open-rw=ETXTBSY exe=(?!\/var\/lib\/tsrun\/)\S*node\n$/);
});

t('CVE-2024-21626: the container process holds only its stdio, with --log and for exec', () => {
  const log = join(sb.dir, 'tsrun.log');
  const script = 'for f in /proc/self/fd/*; do echo "${f##*/} $(readlink $f)"; done';
  const id = sb.id();
  const r = sb.tsrun(['--log', log, '--log-format', 'json', 'run', '--bundle', sb.bundle(['sh', '-c', script]), id]);
  assert.is(r.code, 0, r.stderr);
  const fds = r.stdout.trim().split('\n').map((l) => l.split(' ')[0]);
  // 0-2, and 3 is the directory the shell's glob opened on /proc/self/fd.
  assert.equal(fds, ['0', '1', '2', '3']);
  assert.not.match(r.stdout, sb.root, 'nothing from the state dir');
  assert.not.match(r.stdout, 'cgroup');

  const live = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '30']), live]).code, 0);
  const e = sb.tsrun(['--log', log, 'exec', live, 'sh', '-c', script]);
  assert.is(e.code, 0, e.stderr);
  assert.equal(e.stdout.trim().split('\n').map((l) => l.split(' ')[0]), ['0', '1', '2', '3']);
});

/** Run tsrun with a host directory open as fd 3 (passed on with --preserve-fds 1). */
function withHostDirFd(args: string[]): { code: number; out: string } {
  const hostDir = mkdtempSync(join(tmpdir(), 'tsrun-test-hostdir-'));
  writeFileSync(join(hostDir, 'host-secret'), 'x');
  const dirFd = openSync(hostDir, 'r');
  const outFile = join(sb.dir, `out-${Math.random().toString(36).slice(2)}`);
  const out = openSync(outFile, 'w');
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const r = spawnSync(TSRUN, ['--root', sb.root, ...args], { stdio: ['ignore', out, out, dirFd], env, timeout: 60_000 });
    return { code: r.status ?? 128, out: readFileSync(outFile, 'utf8') };
  } finally {
    closeSync(dirFd);
    closeSync(out);
    rmSync(hostDir, { recursive: true, force: true });
  }
}

t('CVE-2024-21626: a cwd through /proc/self/fd/N outside the root is refused (run and exec)', () => {
  const bundle = sb.bundle(['sh', '-c', 'pwd; ls'], (s) => {
    s.process!.cwd = '/proc/self/fd/3';
  });
  const r = withHostDirFd(['run', '--preserve-fds', '1', '--bundle', bundle, sb.id()]);
  assert.is.not(r.code, 0, r.out);
  assert.not.match(r.out, 'host-secret');
  assert.match(r.out, 'process.cwd "/proc/self/fd/3": is outside the container root');

  const live = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '30']), live]).code, 0);
  const e = withHostDirFd(['exec', '--preserve-fds', '1', '--cwd', '/proc/self/fd/3', live, 'ls']);
  assert.is.not(e.code, 0, e.out);
  assert.not.match(e.out, 'host-secret');
  assert.match(e.out, 'outside the container root');
  // Without a preserved fd, no /proc/self/fd/N is a usable directory for the exec process.
  for (let fd = 3; fd < 24; fd++) {
    const x = sb.tsrun(['exec', '--cwd', `/proc/self/fd/${fd}`, live, 'ls']);
    assert.is.not(x.code, 0, `fd ${fd}: ${x.stdout}`);
    assert.not.match(x.stdout, 'state.json');
  }
});

function privateRootfs(): string {
  const root = join(sb.dir, 'rootfs');
  makeBusyboxRootfs(root);
  chmodSync(sb.dir, 0o755);
  return root;
}

function hostMountsUnder(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(path));
}

t('CVE-2021-30465: mount destinations that are symlinks resolve inside the rootfs', () => {
  const rootfs = privateRootfs();
  const host = mkdtempSync(join(tmpdir(), 'tsrun-test-escape-host-'));
  try {
    symlinkSync(host, join(rootfs, 'abs-link'));
    symlinkSync(`../../../../../../../..${host}`, join(rootfs, 'rel-link'));
    const bundle = sb.bundle(['sh', '-c', 'touch /abs-link/a /rel-link/b && grep -c " /abs-link\\| /rel-link\\| ' + host + ' " /proc/self/mountinfo'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.mounts!.push({ destination: '/abs-link', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      s.mounts!.push({ destination: '/rel-link', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
    assert.is(r.code, 0, r.stderr);
    assert.equal(readdirSync(host), [], 'nothing written to the host directory');
    assert.equal(hostMountsUnder(host), [], 'nothing mounted on the host directory');
    assert.ok(existsSync(join(rootfs, host)), 'the symlink target was made inside the rootfs');
  } finally {
    rmSync(host, { recursive: true, force: true });
  }
});

t('CVE-2021-30465: a destination swapped to a symlink while containers start never reaches the host', () => {
  const rootfs = privateRootfs();
  const host = mkdtempSync(join(tmpdir(), 'tsrun-test-escape-host-'));
  mkdirSync(join(rootfs, 'mnt'));
  symlinkSync(host, join(rootfs, 'mnt-swap'));
  // RENAME_EXCHANGE of /mnt (a directory) and /mnt-swap (a symlink to the host dir), in a loop.
  const swapper = spawn('python3', ['-c', `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
while True:
    libc.renameat2(-100, a, -100, b, 2)
`, join(rootfs, 'mnt'), join(rootfs, 'mnt-swap')], { stdio: 'ignore' });
  try {
    const bundle = sb.bundle(['sh', '-c', 'touch /mnt/x 2>/dev/null; true'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.mounts!.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    let started = 0;
    for (let i = 0; i < 20; i++) {
      const r = sb.tsrun(['run', '--bundle', bundle, sb.id(`race${i}`)]);
      if (r.code === 0) started++;
      assert.equal(hostMountsUnder(host), [], `run ${i}: nothing mounted on the host directory`);
    }
    assert.ok(started > 0, 'containers did start during the race');
    assert.equal(readdirSync(host), [], 'nothing written to the host directory');
  } finally {
    swapper.kill('SIGKILL');
    rmSync(host, { recursive: true, force: true });
  }
});

t.run();
