import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyRootfs, finishRootfs, mountConsole, planRootfs, MountpointError, type RootfsOptions, type RootfsPlan } from '../../runtime/rootfs/index.js';
import { createRecordingSys, type RecordingOptions, type RecordingSys } from '../../runtime/sys/recording.js';
import { SyscallError } from '../../runtime/sys/errors.js';
import { ERRNO, MNT, MS, O, RESOLVE, S, ST } from '../../runtime/sys/constants.js';
import type { StatInfo } from '../../runtime/sys/sys.js';
import type { Spec } from '../../spec/types.js';

const t = suite('rootfs apply (recording double)');
let dir = '';
const ROOTFD = 50;

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-test-rootfs-apply-'));
  mkdirSync(join(dir, 'rootfs'));
  mkdirSync(join(dir, 'vol'));
  writeFileSync(join(dir, 'hosts'), '');
});
t.after(() => rmSync(dir, { recursive: true, force: true }));

const stat = (mode: number, rdev = { major: 0, minor: 0 }): StatInfo => ({ mode, uid: 0, gid: 0, size: 0n, ino: 1n, dev: { major: 0, minor: 1 }, rdev, nlink: 1, mtimeNs: 0n });

/**
 * A Sys double with an in-memory rootfs: `entries` maps paths relative to the rootfs to a mode
 * (missing = ENOENT) and `links` maps symlinks to their targets. fds are remembered by path so
 * that `/proc/self/fd/N` targets print as `fd:<path>`.
 */
function fakeSys(plan: RootfsPlan, entries: Record<string, number>, links: Record<string, string> = {}, more: RecordingOptions = {}) {
  const fs = new Map<string, number>(Object.entries(entries));
  for (const l of Object.keys(links)) fs.set(l, S.IFLNK | 0o777);
  const rdevs = new Map<string, { major: number; minor: number }>();
  const fdPath = new Map<number, string>([[ROOTFD, '']]);
  let next = 100;
  const under = (dirfd: number, p: string) => {
    const base = fdPath.get(dirfd);
    if (base === undefined) throw new Error(`fake: unknown dirfd ${dirfd}`);
    return [base, p].filter((x) => x && x !== '.').join('/');
  };
  const openAt = (dirfd: number, p: string, flags: number, _mode?: number, resolve = 0) => {
    const rel = under(dirfd, p);
    if (resolve & RESOLVE.NO_SYMLINKS) {
      const parts = rel.split('/');
      for (let i = 1; i <= parts.length; i++) {
        if (links[parts.slice(0, i).join('/')] !== undefined) throw new SyscallError('openat2', ERRNO.ELOOP, p);
      }
    }
    if (flags & O.CREAT) {
      if (fs.has(rel) && flags & O.EXCL) throw new SyscallError('openat2', ERRNO.EEXIST, p);
      if (!fs.has(rel)) fs.set(rel, S.IFREG | 0o644);
    } else if (rel !== '' && !fs.has(rel)) throw new SyscallError('openat2', ERRNO.ENOENT, p);
    fdPath.set(next, rel);
    return next++;
  };
  const sys = createRecordingSys({
    ...more,
    results: {
      open: (p: string) => {
        if (p === plan.rootfs) return ROOTFD;
        fdPath.set(next, `host:${p}`);
        return next++;
      },
      openat2: openAt,
      openat: openAt,
      mkdirat: (dirfd: number, p: string) => { fs.set(under(dirfd, p), S.IFDIR | 0o755); },
      mknodat: (dirfd: number, p: string, mode: number, major: number, minor: number) => {
        const rel = under(dirfd, p);
        if (fs.has(rel)) throw new SyscallError('mknod', ERRNO.EEXIST, p);
        fs.set(rel, mode);
        rdevs.set(rel, { major, minor });
      },
      fstat: (fd: number) => {
        const p = fdPath.get(fd);
        if (p === undefined) return stat(S.IFIFO | 0o600); // stdio of the test process: pipes
        if (p === 'host:/dev/null') return stat(S.IFCHR | 0o666, { major: 1, minor: 3 });
        if (p.startsWith('host:')) return stat(S.IFDIR | 0o755);
        return stat(fs.get(p) ?? S.IFDIR | 0o755, rdevs.get(p));
      },
      readlink: (p: string) => {
        const m = /^\/proc\/self\/fd\/(\d+)\/(.+)$/.exec(p)!;
        return links[under(Number(m[1]), m[2])];
      },
      ...more.results,
    },
  });
  const show = (a: unknown) => {
    if (typeof a !== 'string') return a;
    const m = /^\/proc\/self\/fd\/(\d+)$/.exec(a);
    return m && fdPath.has(Number(m[1])) ? `fd:${fdPath.get(Number(m[1]))}` : a;
  };
  const callsOf = (...names: string[]) => sys.calls.filter((c) => names.includes(c.call)).map((c) => [c.call, ...c.args.map(show)]);
  return { sys, fs, callsOf };
}

function plan(spec: Partial<Spec>, o: Partial<RootfsOptions> = {}): RootfsPlan {
  return planRootfs({ ociVersion: '1.2.0', ...spec }, { bundle: dir, rootfs: join(dir, 'rootfs'), noPivot: false, userns: false, hostHasKcore: false, ...o });
}

const basicMounts: Spec['mounts'] = [
  { destination: '/proc', type: 'proc', source: 'proc' },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'newinstance', 'ptmxmode=0666'] },
  { destination: '/data', source: 'vol', options: ['rbind', 'ro', 'rprivate'] },
];

t('the call sequence: propagation, rootfs bind, mounts, devices, links, hooks, pivot_root', () => {
  const p = plan({ mounts: basicMounts });
  const { sys, callsOf } = fakeSys(p, { proc: S.IFDIR | 0o555, dev: S.IFDIR | 0o700 });
  let hookRanAfter = 0;
  applyRootfs(sys, p, { beforePivot: () => { hookRanAfter = sys.calls.length; } });
  const rootfs = p.rootfs;
  const names = sys.callNames();
  assert.ok(names.indexOf('pivotRoot') > hookRanAfter - 1 && hookRanAfter > names.lastIndexOf('symlinkat'), 'hook between /dev setup and pivot');
  assert.equal(callsOf('mount'), [
    ['mount', null, '/', null, MS.SLAVE | MS.REC, null],
    ['mount', null, rootfs, null, MS.PRIVATE, null],
    ['mount', rootfs, rootfs, 'bind', MS.BIND | MS.REC, null],
    ['mount', 'proc', 'fd:proc', 'proc', 0, null],
    // /dev existed with mode 0700: tmpfs keeps it unless data says otherwise (runc), later mode= wins.
    ['mount', 'tmpfs', 'fd:dev', 'tmpfs', MS.NOSUID | MS.STRICTATIME, 'mode=0700,mode=755'],
    ['mount', 'devpts', 'fd:dev/pts', 'devpts', MS.NOSUID, 'newinstance,ptmxmode=0666'],
    // ro bind: MS_BIND first (flags ignored by the kernel), then the remount, then propagation.
    ['mount', join(dir, 'vol'), 'fd:data', 'bind', MS.BIND | MS.REC | MS.RDONLY, null],
    ['mount', null, 'fd:data', null, MS.BIND | MS.REC | MS.REMOUNT | MS.RDONLY, null],
    ['mount', null, 'fd:data', null, MS.PRIVATE | MS.REC, null],
    // pivot_root(".", "."), then the old root is made rslave and detached.
    ['mount', null, '.', null, MS.SLAVE | MS.REC, null],
  ]);
  // /dev/pts is missing on the fresh tmpfs; /data is missing in the image: both made as directories.
  assert.equal(callsOf('mkdirat').map((c) => [c[2], c[3]]), [['pts', 0o755], ['data', 0o755]]);
  assert.equal(callsOf('mknodat').map((c) => [c[2], c[3], c[4], c[5]]), [
    ['null', S.IFCHR | 0o666, 1, 3], ['zero', S.IFCHR | 0o666, 1, 5], ['full', S.IFCHR | 0o666, 1, 7],
    ['random', S.IFCHR | 0o666, 1, 8], ['urandom', S.IFCHR | 0o666, 1, 9], ['tty', S.IFCHR | 0o666, 5, 0],
  ]);
  assert.equal(callsOf('chmod')[0], ['chmod', 'fd:dev/null', 0o666], 'mode fixed after mknod (umask)');
  assert.equal(callsOf('fchownat')[0].slice(2), ['fd:dev/null', 0, 0, 0]);
  assert.equal(callsOf('unlinkat', 'symlinkat').map((c) => c.filter((_, i) => i !== (c[0] === 'unlinkat' ? 1 : 2))), [
    ['unlinkat', 'ptmx', 0], ['symlinkat', 'pts/ptmx', 'ptmx'], ['symlinkat', '/proc/self/fd', 'fd'],
    ['symlinkat', '/proc/self/fd/0', 'stdin'], ['symlinkat', '/proc/self/fd/1', 'stdout'], ['symlinkat', '/proc/self/fd/2', 'stderr'],
  ]);
  const oldrootOpen = sys.calls.find((c) => c.call === 'open' && c.args[0] === '/')!;
  assert.is(oldrootOpen.args[1], O.DIRECTORY | O.RDONLY | O.PATH | O.CLOEXEC);
  assert.equal(callsOf('fchdir', 'pivotRoot', 'umount2', 'chdir').map((c) => c.slice(0, 3)), [
    ['fchdir', ROOTFD], ['pivotRoot', '.', '.'], ['fchdir', callsOf('fchdir')[1][1]], ['umount2', '.', MNT.DETACH], ['chdir', '/'],
  ]);
  const oldrootFd = callsOf('fchdir')[1][1];
  assert.ok(oldrootFd !== ROOTFD && callsOf('close').some((c) => c[1] === oldrootFd), 'fchdir to the old root fd, closed after');
  assert.ok(callsOf('close').some((c) => c[1] === ROOTFD), 'the rootfs fd is closed');
  // every destination was opened confined to the rootfs
  const finalOpens = sys.calls.filter((c) => c.call === 'openat2' && c.args[0] === ROOTFD);
  assert.ok(finalOpens.length > 0);
});

t('destinations resolve inside the rootfs: absolute and ../ symlinks, created step by step', () => {
  const p = plan({ mounts: [
    { destination: '/abs/sub', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/rel', type: 'tmpfs', source: 'tmpfs' },
  ] });
  const { sys, fs, callsOf } = fakeSys(p, { etc: S.IFDIR | 0o755 }, { abs: '/tmp/outside', rel: '../../../etc/x' });
  applyRootfs(sys, p);
  const m = callsOf('mount').filter((c) => c[3] === 'tmpfs');
  assert.equal(m.map((c) => c[2]), ['fd:tmp/outside/sub', 'fd:etc/x']);
  assert.ok(fs.has('tmp/outside/sub') && fs.has('etc/x'));
  assert.equal(callsOf('mkdirat').map((c) => c[2]), ['tmp', 'outside', 'sub', 'x', 'dev']);
  assert.equal(m.map((c) => c[5]), [null, null], 'created directories: no mode= copied');
});

t('a destination symlink to "/" or "../../.." is refused (would cover the root)', () => {
  const p = plan({ mounts: [{ destination: '/up', type: 'tmpfs', source: 'tmpfs' }] });
  const { sys } = fakeSys(p, {}, { up: '../../..' });
  try {
    applyRootfs(sys, p);
    assert.unreachable('should refuse');
  } catch (e) {
    assert.instance(e, MountpointError);
    assert.is((e as SyscallError).path, '/up');
    assert.match((e as Error).message, /container root/);
  }
  assert.not.ok(sys.calls.some((c) => c.call === 'mount' && c.args[2] === 'tmpfs'));
});

t('proc on a symlink is refused; a symlink to /proc/sys is refused for a tmpfs', () => {
  const p = plan({ mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }] });
  const { sys } = fakeSys(p, {}, { proc: '/tmp/evil' });
  try {
    applyRootfs(sys, p);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, MountpointError);
    assert.is((e as SyscallError).errno, ERRNO.ENOTDIR);
    assert.is((e as SyscallError).path, '/proc');
    assert.match((e as Error).message, /symlink; this filesystem must be mounted on an ordinary directory/);
  }
  const q = plan({ mounts: [{ destination: '/innocent', type: 'tmpfs', source: 'tmpfs' }] });
  const f = fakeSys(q, { proc: S.IFDIR | 0o555, 'proc/sys': S.IFDIR | 0o555 }, { innocent: '/proc/sys' });
  assert.throws(() => applyRootfs(f.sys, q), /inside \/proc/);
});

t('bind of a file creates an empty file as the mountpoint', () => {
  const p = plan({ mounts: [{ destination: '/etc/hosts', source: join(dir, 'hosts'), options: ['bind'] }] });
  const { sys, fs, callsOf } = fakeSys(p, { etc: S.IFDIR | 0o755 });
  applyRootfs(sys, p);
  assert.is(fs.get('etc/hosts')! & S.IFMT, S.IFREG);
  const create = sys.calls.find((c) => c.call === 'openat2' && ((c.args[2] as number) & O.CREAT))!;
  assert.is(create.args[1], 'hosts');
  assert.is(create.args[2], O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC | O.RDONLY);
  assert.equal(callsOf('mount').find((c) => c[1] === join(dir, 'hosts'))!.slice(2), ['fd:etc/hosts', 'bind', MS.BIND, null]);
});

t('mount /proc failing with EPERM: a SyscallError with call, errno and the container path', () => {
  const p = plan({ mounts: basicMounts });
  const { sys } = fakeSys(p, {}, {}, { fail: [{ call: 'mount', path: 'proc', code: 'EPERM' }] });
  try {
    applyRootfs(sys, p);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, SyscallError);
    const err = e as SyscallError;
    assert.equal([err.call, err.errno, err.code, err.path, err.message], ['mount', 1, 'EPERM', '/proc', 'mount /proc: EPERM']);
  }
  assert.not.ok(sys.callNames().includes('pivotRoot'));
});

t('bind remount refused (locked flags in a user ns): retried with the source mount\'s flags', () => {
  const p = plan({ mounts: [{ destination: '/data', source: 'vol', options: ['bind', 'ro'] }] });
  let remounts = 0;
  const { sys, callsOf } = fakeSys(p, { data: S.IFDIR | 0o755 }, {}, {
    results: {
      mount: (_s: unknown, _t: unknown, _f: unknown, flags: number) => {
        if (flags & MS.REMOUNT && remounts++ === 0) throw new SyscallError('mount', ERRNO.EPERM, '/proc/self/fd/1');
      },
      statfsFlags: () => ST.NOSUID | ST.NODEV | ST.RELATIME,
    },
  });
  applyRootfs(sys, p);
  const r = callsOf('mount').filter((c) => c[2] === 'fd:data' && (c[4] as number) & MS.REMOUNT);
  assert.equal(r.map((c) => c[4]), [
    MS.BIND | MS.REMOUNT | MS.RDONLY,
    MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.RELATIME,
  ]);
  assert.equal(callsOf('statfsFlags'), [['statfsFlags', join(dir, 'vol')]]);
});

t('a locked flag the config clears explicitly is an error, not silently kept', () => {
  const p = plan({ mounts: [{ destination: '/data', source: 'vol', options: ['bind', 'suid'] }] });
  const { sys } = fakeSys(p, { data: S.IFDIR | 0o755 }, {}, {
    results: {
      mount: (_s: unknown, _t: unknown, _f: unknown, flags: number) => {
        if (flags & MS.REMOUNT) throw new SyscallError('mount', ERRNO.EPERM);
      },
      statfsFlags: () => ST.NOSUID,
    },
  });
  assert.throws(() => applyRootfs(sys, p), /mount \/data: cannot clear locked flags NOSUID/);
});

t('user namespace: devices are host nodes bind-mounted on empty files; sysfs EPERM falls back to /sys', () => {
  const p = plan({ mounts: [basicMounts![1], { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro', 'nosuid'] }] }, { userns: true });
  const { sys, callsOf } = fakeSys(p, { sys: S.IFDIR | 0o555 }, {}, { fail: [{ call: 'mount', path: 'sysfs', code: 'EPERM' }] });
  applyRootfs(sys, p);
  assert.not.ok(sys.callNames().includes('mknodat'));
  const binds = callsOf('mount').filter((c) => c[3] === 'bind' && (c[1] as string).startsWith('/dev/'));
  assert.equal(binds.map((c) => [c[1], c[2], c[4]]), [
    ['/dev/null', 'fd:dev/null', MS.BIND], ['/dev/zero', 'fd:dev/zero', MS.BIND], ['/dev/full', 'fd:dev/full', MS.BIND],
    ['/dev/random', 'fd:dev/random', MS.BIND], ['/dev/urandom', 'fd:dev/urandom', MS.BIND], ['/dev/tty', 'fd:dev/tty', MS.BIND],
  ]);
  const created = sys.calls.filter((c) => c.call === 'openat' && ((c.args[2] as number) & O.CREAT)).map((c) => [c.args[1], c.args[3]]);
  assert.equal(created.slice(0, 2), [['null', 0], ['zero', 0]]);
  const sysMounts = callsOf('mount').filter((c) => c[2] === 'fd:sys');
  assert.equal(sysMounts.map((c) => [c[1], c[3], c[4]]), [
    ['sysfs', 'sysfs', MS.RDONLY | MS.NOSUID],
    ['/sys', 'bind', MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID],
    [null, null, MS.BIND | MS.REC | MS.REMOUNT | MS.RDONLY | MS.NOSUID],
  ]);
});

t('mknod refused with EPERM (no CAP_MKNOD) falls back to a bind, as runc', () => {
  const p = plan({ mounts: [basicMounts![1]] });
  const { sys, callsOf } = fakeSys(p, {}, {}, { fail: [{ call: 'mknodat', path: 'tty', code: 'EPERM' }] });
  applyRootfs(sys, p);
  assert.equal(callsOf('mount').filter((c) => c[3] === 'bind' && c[1] !== p.rootfs).map((c) => c[1]), ['/dev/tty']);
});

t('no-pivot: host proc/sysfs detached (or covered), MS_MOVE then chroot', () => {
  const p = plan({ mounts: [] }, { noPivot: true, hostProcSysMounts: ['/proc', '/sys'] });
  const { sys, callsOf } = fakeSys(p, {}, {}, { fail: [{ call: 'umount2', path: '/sys', code: 'EPERM' }] });
  applyRootfs(sys, p);
  assert.equal(callsOf('mount', 'umount2', 'chroot', 'chdir', 'pivotRoot').slice(3), [
    ['mount', null, '/proc', null, MS.SLAVE | MS.REC, null], ['umount2', '/proc', MNT.DETACH],
    ['mount', null, '/sys', null, MS.SLAVE | MS.REC, null], ['umount2', '/sys', MNT.DETACH],
    ['mount', 'tmpfs', '/sys', 'tmpfs', 0, null],
    ['mount', p.rootfs, '/', null, MS.MOVE, null], ['chroot', '.'], ['chdir', '/'],
  ]);
});

t('rootfs parent propagation walks up on EINVAL; overlay replaces the self-bind; shared root after pivot', () => {
  const p = plan({ mounts: [], linux: { rootfsPropagation: 'rshared' } }, { overlay: { source: 'overlay', fstype: 'overlay', data: 'lowerdir=/l,upperdir=/u,workdir=/w' } });
  let hits = 0; // EINVAL once for the rootfs itself (not a mountpoint): its parent is tried next
  const { sys } = fakeSys(p, {}, {}, {
    results: {
      mount: (_s: unknown, target: string, _f: unknown, flags: number) => {
        if (target === p.rootfs && flags === MS.PRIVATE && hits++ === 0) throw new SyscallError('mount', ERRNO.EINVAL, target);
      },
    },
  });
  applyRootfs(sys, p);
  const seq = sys.calls.filter((c) => c.call === 'mount').map((c) => c.args);
  assert.equal(seq[0], [null, '/', null, MS.SHARED | MS.REC, null]);
  assert.equal(seq[1], [null, p.rootfs, null, MS.PRIVATE, null]);
  assert.equal(seq[2], [null, p.parentCandidates[1], null, MS.PRIVATE, null]);
  assert.equal(seq[3], ['overlay', p.rootfs, 'overlay', 0, 'lowerdir=/l,upperdir=/u,workdir=/w']);
  assert.not.ok(seq.some((a) => a[3] === (MS.BIND | MS.REC) && a[0] === p.rootfs), 'no self-bind with an overlay');
  assert.equal(seq.at(-1), [null, '/', null, MS.SHARED | MS.REC, null], 'rshared applied to / after the pivot');
});

t('finishRootfs: readonly paths, masked file/dir/missing, ro tmpfs remount, readonly root', () => {
  const p = plan({
    root: { path: 'rootfs', readonly: true },
    mounts: [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'nosuid'] }],
    linux: { maskedPaths: ['/proc/kcore', '/proc/acpi', '/proc/missing'], readonlyPaths: ['/proc/sys', '/proc/gone'] },
  });
  const sys: RecordingSys = createRecordingSys({
    fail: [{ call: 'mount', path: '/proc/gone', code: 'ENOENT' }, { call: 'open', path: '/proc/missing', code: 'ENOENT' }],
    results: {
      lstat: () => stat(S.IFCHR | 0o666, { major: 1, minor: 3 }),
      open: (path: string) => (path === '/proc/kcore' ? 71 : 72),
      fstat: (fd: number) => stat(fd === 71 ? S.IFREG | 0o400 : S.IFDIR | 0o555),
      statfsFlags: () => ST.NOSUID | ST.NODEV | ST.NOEXEC | ST.RELATIME,
    },
  });
  finishRootfs(sys, p);
  assert.equal(sys.calls.filter((c) => c.call === 'mount').map((c) => c.args), [
    ['/proc/sys', '/proc/sys', null, MS.BIND | MS.REC, null],
    ['/proc/sys', '/proc/sys', null, MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.BIND | MS.REMOUNT | MS.RDONLY, null],
    ['/proc/gone', '/proc/gone', null, MS.BIND | MS.REC, null],
    ['/dev/null', '/proc/kcore', null, MS.BIND, null],
    ['tmpfs', '/proc/acpi', 'tmpfs', MS.RDONLY, 'nr_blocks=1,nr_inodes=1'],
    [null, '/tmp', null, MS.RDONLY | MS.NOSUID | MS.REMOUNT | MS.BIND, null],
    [null, '/', null, MS.BIND | MS.REMOUNT | MS.RDONLY, null],
  ]);
});

t('finishRootfs refuses to mask with a /dev/null that is not the null device', () => {
  const p = plan({ linux: { maskedPaths: ['/proc/kcore'] } });
  const sys = createRecordingSys({ results: { lstat: () => stat(S.IFREG | 0o644) } });
  assert.throws(() => finishRootfs(sys, p), /\/dev\/null is not the null device/);
  assert.not.ok(sys.callNames().includes('mount'));
});

t('console: /dev/console made before the pivot when asked; mountConsole binds the pty on it', () => {
  const p = plan({ mounts: [basicMounts![1]] }, { consoleSlave: true });
  const { sys } = fakeSys(p, {});
  applyRootfs(sys, p);
  const made = sys.calls.find((c) => c.call === 'openat' && c.args[1] === 'console')!;
  assert.is(made.args[2], O.CREAT | O.NOFOLLOW | O.CLOEXEC | O.RDONLY);
  assert.is(made.args[3], 0o666);
  assert.not.ok(plan({ mounts: [] }).consoleFile);
  const c = createRecordingSys();
  mountConsole(c, '/dev/pts/0');
  assert.equal(c.calls.filter((x) => x.call === 'mount').map((x) => x.args), [['/dev/pts/0', '/dev/console', null, MS.BIND, null]]);
});

t.run();
