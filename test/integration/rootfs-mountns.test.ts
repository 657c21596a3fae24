// applyRootfs/finishRootfs for real, each in a forked child that first unshares its mount namespace
// (so every mount dies with it), on a busybox rootfs made in a temp dir. The child reports over a
// pipe; only Sys calls run in it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { linuxSys as sys } from '../../runtime/sys/linux.js';
import { CLONE, O, S } from '../../runtime/sys/constants.js';
import { SyscallError } from '../../runtime/sys/errors.js';
import { applyRootfs, finishRootfs, planRootfs, type RootfsPlan } from '../../runtime/rootfs/index.js';
import type { Spec } from '../../spec/types.js';

const t = suite('rootfs in a throwaway mount namespace');
let top = '';
let sentinel = '';

type Outcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: { message: string; call?: string; code?: string; path?: string } };

/** Fork; in the child: new mount ns, applyRootfs, finishRootfs, then `check` — its result comes back as JSON. */
function inMountNamespace(plan: RootfsPlan, check: () => Record<string, unknown>): Outcome {
  const [r, w] = sys.pipe2(O.CLOEXEC);
  const pid = sys.fork();
  if (pid === 0) {
    let code = 0;
    let out: string;
    try {
      sys.unshare(CLONE.NEWNS);
      applyRootfs(sys, plan);
      finishRootfs(sys, plan);
      out = JSON.stringify({ ok: true, result: check() });
    } catch (e) {
      const err = e as SyscallError;
      out = JSON.stringify({ ok: false, error: { message: err.message, call: err.call, code: err.code, path: err.path } });
      code = 1;
    }
    sys.write(w, out);
    sys.exit(code);
  }
  sys.close(w);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (let n; (n = sys.read(r, buf)) > 0;) chunks.push(Buffer.from(buf.subarray(0, n)));
  sys.close(r);
  const { status } = sys.waitpid(pid);
  const text = Buffer.concat(chunks).toString();
  if (!text) throw new Error(`child died without a report, wait status ${status}`);
  return JSON.parse(text) as Outcome;
}

function ok(out: Outcome): Record<string, unknown> {
  if (!out.ok) throw new Error(`child failed: ${out.error.message}`);
  return out.result;
}
function failed(out: Outcome, why: string): Extract<Outcome, { ok: false }>['error'] {
  if (out.ok) throw new Error(why);
  return out.error;
}

function makeRootfs(name: string): string {
  const root = join(top, name);
  for (const d of ['bin', 'etc', 'tmp', 'rodir', 'secretdir']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  symlinkSync('busybox', join(root, 'bin/sh'));
  writeFileSync(join(root, 'secret.txt'), 'top secret');
  writeFileSync(join(root, 'secretdir/inner'), 'inner secret');
  writeFileSync(join(root, 'rodir/file'), 'x');
  return root;
}

function plan(rootfs: string, spec: Partial<Spec>): RootfsPlan {
  return planRootfs({ ociVersion: '1.2.0', process: { cwd: '/work/dir', user: { uid: 0, gid: 0 } }, ...spec }, {
    bundle: top, rootfs, noPivot: false, userns: false,
  });
}

/** errno name of a failing call, or 'ok'. */
function attempt(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as SyscallError).code ?? String(e);
  }
}

function readAll(path: string): string {
  const fd = sys.open(path, O.RDONLY | O.CLOEXEC);
  try {
    const b = Buffer.alloc(4096);
    const n = sys.read(fd, b);
    return b.subarray(0, n).toString();
  } finally {
    sys.close(fd);
  }
}

const createFile = (p: string) => () => sys.close(sys.open(p, O.CREAT | O.WRONLY | O.CLOEXEC, 0o644));

t.before(() => {
  top = mkdtempSync(join(tmpdir(), 'tsrun-test-rootfs-real-'));
  sentinel = mkdtempSync(join(tmpdir(), 'tsrun-test-sentinel-'));
  mkdirSync(join(top, 'vol'));
  mkdirSync(join(top, 'volro'));
  writeFileSync(join(top, 'volro/data'), 'ro data');
  writeFileSync(join(top, 'hostfile'), 'host file');
});
t.after(() => {
  rmSync(top, { recursive: true, force: true });
  rmSync(sentinel, { recursive: true, force: true });
});

t('proc, /dev, devpts, binds, devices, masked, readonly and a read-only root', () => {
  const rootfs = makeRootfs('full');
  const p = plan(rootfs, {
    root: { path: rootfs, readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
      { destination: '/mnt/rw', source: join(top, 'vol'), options: ['rbind', 'rprivate'] },
      { destination: '/mnt/ro', source: join(top, 'volro'), options: ['bind', 'ro', 'nosuid'] },
      { destination: '/etc/hostfile', source: join(top, 'hostfile'), options: ['bind', 'ro'] },
    ],
    linux: {
      devices: [{ type: 'c', path: '/dev/mydev', major: 1, minor: 7, fileMode: 0o640 }],
      maskedPaths: ['/secret.txt', '/secretdir', '/proc/kcore', '/does/not/exist'],
      readonlyPaths: ['/rodir', '/proc/sys', '/not/here'],
    },
  });
  const topDir = top;
  const out = inMountNamespace(p, () => {
    const nul = sys.lstat('/dev/null');
    const mydev = sys.lstat('/dev/mydev');
    const rw = attempt(createFile('/mnt/rw/from-container'));
    return {
      devNull: [nul.mode & S.IFMT, nul.rdev.major, nul.rdev.minor, nul.mode & 0o7777],
      myDev: [mydev.mode & S.IFMT, mydev.rdev.major, mydev.rdev.minor, mydev.mode & 0o7777],
      ptmx: sys.readlink('/dev/ptmx'),
      fd: sys.readlink('/dev/fd'),
      stdin: sys.readlink('/dev/stdin'),
      ptsPtmx: (sys.lstat('/dev/pts/ptmx').mode & S.IFMT) === S.IFCHR,
      procSelfStat: readAll('/proc/self/stat').split(' ')[0] === String(sys.getpid()),
      rw,
      roBind: attempt(createFile('/mnt/ro/x')),
      roBindRead: readAll('/mnt/ro/data'),
      hostFile: readAll('/etc/hostfile'),
      hostFileWrite: attempt(() => sys.close(sys.open('/etc/hostfile', O.WRONLY | O.CLOEXEC))),
      maskedFile: readAll('/secret.txt'),
      maskedDirInner: attempt(() => sys.lstat('/secretdir/inner')),
      maskedDirWrite: attempt(createFile('/secretdir/new')),
      readonlyPath: attempt(createFile('/rodir/new')),
      readonlyPathRead: readAll('/rodir/file'),
      procSysWrite: attempt(() => sys.close(sys.open('/proc/sys/kernel/hostname', O.WRONLY | O.CLOEXEC))),
      rootWrite: attempt(createFile('/newfile')),
      devWrite: attempt(createFile('/dev/shm/ok')),
      cwd: (sys.lstat('/work/dir').mode & S.IFMT) === S.IFDIR,
      hostTmpHidden: attempt(() => sys.lstat(topDir)),
    };
  });
  const r = ok(out);
  assert.equal(r.devNull, [S.IFCHR, 1, 3, 0o666]);
  assert.equal(r.myDev, [S.IFCHR, 1, 7, 0o640]);
  assert.is(r.ptmx, 'pts/ptmx');
  assert.is(r.fd, '/proc/self/fd');
  assert.is(r.stdin, '/proc/self/fd/0');
  assert.ok(r.ptsPtmx, 'a new devpts instance');
  assert.ok(r.procSelfStat, 'a new procfs shows this process');
  assert.is(r.rw, 'ok');
  assert.is(r.roBind, 'EROFS');
  assert.is(r.roBindRead, 'ro data');
  assert.is(r.hostFile, 'host file');
  assert.is(r.hostFileWrite, 'EROFS');
  assert.is(r.maskedFile, '');
  assert.is(r.maskedDirInner, 'ENOENT');
  assert.is(r.maskedDirWrite, 'EROFS');
  assert.is(r.readonlyPath, 'EROFS');
  assert.is(r.readonlyPathRead, 'x');
  assert.is(r.procSysWrite, 'EROFS');
  assert.is(r.rootWrite, 'EROFS');
  assert.is(r.devWrite, 'ok', '/dev/shm is its own rw tmpfs under a read-only root');
  assert.ok(r.cwd);
  assert.is(r.hostTmpHidden, 'ENOENT', 'the host tree is gone after pivot_root');
  // The rw bind really was the host directory; the image's own files were never written.
  assert.ok(existsSync(join(top, 'vol/from-container')));
  assert.is(readdirSync(join(rootfs, 'mnt/rw')).length, 0);
  assert.is(lstatSync(join(rootfs, 'etc/hostfile')).size, 0, 'file bind target: an empty file in the image');
});

t('symlinked destinations (absolute and ../) land inside the rootfs; the host sentinel is untouched', () => {
  const rootfs = makeRootfs('escape');
  const name = basename(sentinel);
  symlinkSync(sentinel, join(rootfs, 'abs')); // -> /tmp/tsrun-test-sentinel-XXXX
  symlinkSync(`../../../../../..${sentinel}/rel`, join(rootfs, 'rel'));
  symlinkSync(`${sentinel}/viafile`, join(rootfs, 'viafile'));
  const p = plan(rootfs, {
    mounts: [
      { destination: '/abs/sub', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/rel', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/viafile', source: join(top, 'hostfile'), options: ['bind'] },
    ],
  });
  const out = inMountNamespace(p, () => {
    const marks = [`${sentinel}/sub/mark`, `${sentinel}/rel/mark`];
    return {
      marks: marks.map((m) => attempt(createFile(m))),
      viafile: readAll('/viafile'),
    };
  });
  const r = ok(out);
  assert.equal(r.marks, ['ok', 'ok'], 'the tmpfs mounts are where the links point, inside the container');
  assert.is(r.viafile, 'host file');
  assert.equal(readdirSync(sentinel), [], 'nothing created in the host directory the links name');
  assert.ok(lstatSync(join(rootfs, 'tmp', name, 'sub')).isDirectory(), 'mountpoints made inside the rootfs');
  assert.ok(lstatSync(join(rootfs, 'tmp', name, 'rel')).isDirectory());
  assert.ok(lstatSync(join(rootfs, 'tmp', name, 'viafile')).isFile());
});

t('a destination symlink to "../../.." is refused, naming the mount', () => {
  const rootfs = makeRootfs('toroot');
  symlinkSync('../../..', join(rootfs, 'up'));
  const out = inMountNamespace(plan(rootfs, { mounts: [{ destination: '/up', type: 'tmpfs', source: 'tmpfs' }] }), () => ({}));
  const err = failed(out, 'mounting over the root through a symlink must fail');
  assert.is(err.path, '/up');
  assert.is(err.call, 'mount');
  assert.match(err.message, /container root/);
  assert.equal(readdirSync(sentinel), []);
});

t('/proc and /dev as symlinks pointing outside: proc refused, /dev kept inside', () => {
  const rootfs = makeRootfs('links');
  symlinkSync(`${sentinel}/proc`, join(rootfs, 'proc'));
  symlinkSync(`../../../../../..${sentinel}/dev`, join(rootfs, 'dev'));
  const bad = inMountNamespace(plan(rootfs, { mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }] }), () => ({}));
  const err = failed(bad, 'proc on a symlink must be refused');
  assert.equal([err.call, err.code, err.path], ['mount', 'ENOTDIR', '/proc']);
  assert.match(err.message, /ordinary directory/);

  const good = inMountNamespace(plan(rootfs, { mounts: [{ destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] }] }), () => {
    const n = sys.lstat('/dev/null'); // through the image's /dev link, now inside the container
    return { null: [n.mode & S.IFMT, n.rdev.major, n.rdev.minor], ptmx: sys.readlink(`${sentinel}/dev/ptmx`) };
  });
  const g = ok(good);
  assert.equal(g.null, [S.IFCHR, 1, 3]);
  assert.is(g.ptmx, 'pts/ptmx');
  assert.equal(readdirSync(sentinel), [], 'no /proc or /dev made in the host directory');
  assert.ok(lstatSync(join(rootfs, 'tmp', basename(sentinel), 'dev')).isDirectory());
});

t('--no-pivot: MS_MOVE + chroot, host proc and sysfs not reachable', () => {
  const rootfs = makeRootfs('nopivot');
  const p = planRootfs({ ociVersion: '1.2.0', mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }] }, {
    bundle: top, rootfs, noPivot: true, userns: false,
  });
  const out = inMountNamespace(p, () => ({
    self: readAll('/proc/self/stat').split(' ')[0] === String(sys.getpid()),
    busybox: (sys.lstat('/bin/busybox').mode & S.IFMT) === S.IFREG,
    sysGone: attempt(() => sys.lstat('/sys/kernel')),
  }));
  const r = ok(out);
  assert.ok(r.self);
  assert.ok(r.busybox);
  assert.is(r.sysGone, 'ENOENT');
});

t.run();
