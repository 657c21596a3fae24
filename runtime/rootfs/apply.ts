// The init child's side: carry out a RootfsPlan with synchronous Sys calls only (no fs, no console,
// no await). Order as runc's prepareRootfs / finalizeRootfs (libcontainer/rootfs_linux.go).
// Every failure is a SyscallError whose path is the one a person knows (the container path of the
// mount, device or link), not /proc/self/fd/N.
import type { Sys } from '../sys/sys.js';
import { SyscallError, isErrno } from '../sys/errors.js';
import { AT, ERRNO, MNT, MOVE_MOUNT, MS, O, S, ST } from '../sys/constants.js';
import { MountpointError } from './errors.js';
import type { PlannedDevice, PlannedMount, RootfsPlan, RootfsStep } from './plan.js';
import { describeMountFlags } from './options.js';
import { copyTree } from './copy-up.js';
import { basenameOf, dirnameOf, procMountProblem } from './paths.js';
import { createInRoot, openDirInRoot, openResolved, procFd, type RootCtx } from './resolve.js';

const ATIME_ENUM = MS.NOATIME | MS.RELATIME | MS.STRICTATIME;
const ATIME_FLAGS = ATIME_ENUM | MS.NODIRATIME;
/** Flags the kernel locks on mounts inherited into a less privileged user namespace (MNT_LOCK_*). */
const LOCKABLE_FLAGS = MS.RDONLY | MS.NODEV | MS.NOEXEC | MS.NOSUID | ATIME_FLAGS;

export interface RootfsHooks {
  /** Runs after every mount and device, before pivot_root (createRuntime/createContainer hooks). */
  beforePivot?: () => void;
}

/** statfs f_flags -> MS_* flags, as runc's statfsToMountFlags (no ST_STRICTATIME exists). */
export function statfsToMountFlags(st: number): number {
  const pairs: [number, number][] = [
    [ST.RDONLY, MS.RDONLY], [ST.NOSUID, MS.NOSUID], [ST.NODEV, MS.NODEV], [ST.NOEXEC, MS.NOEXEC],
    [ST.MANDLOCK, MS.MANDLOCK], [ST.SYNCHRONOUS, MS.SYNCHRONOUS], [ST.NOATIME, MS.NOATIME],
    [ST.NODIRATIME, MS.NODIRATIME], [ST.RELATIME, MS.RELATIME], [ST.NOSYMFOLLOW, MS.NOSYMFOLLOW],
  ];
  let flags = 0;
  for (const [s, m] of pairs) if ((st & s) === s) flags |= m;
  if ((flags & ATIME_ENUM) === 0) flags |= MS.STRICTATIME;
  return flags;
}

/** Run `fn`; a SyscallError about an fd path or a bare name is re-thrown naming `shown` instead. */
function about<T>(shown: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SyscallError && !(e instanceof MountpointError)) {
      const p = e.path;
      if (p === undefined || !p.startsWith('/') || p.startsWith('/proc/self/fd/')) throw new SyscallError(e.call, e.errno, shown);
    }
    throw e;
  }
}

function ignoring(codes: string[], fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!codes.some((c) => isErrno(e, c))) throw e;
  }
}

/**
 * Everything up to and including the pivot: propagation, the rootfs mount, config mounts, devices,
 * /dev links, `hooks.beforePivot`, pivot_root (or MS_MOVE + chroot), and the cwd. Leaves the process
 * in the new root with cwd "/". Masked and read-only paths are finishRootfs's job.
 */
export function applyRootfs(sys: Sys, plan: RootfsPlan, hooks: RootfsHooks = {}): void {
  about('/', () => sys.mount(null, '/', null, plan.rootPropagation, null));
  makeParentUnshared(sys, plan);
  about(plan.rootfs, () => {
    if (plan.overlay) sys.mount(plan.overlay.source, plan.rootfs, plan.overlay.fstype, 0, plan.overlay.data);
    else sys.mount(plan.rootfs, plan.rootfs, 'bind', MS.BIND | MS.REC, null);
  });
  const rootfd = about(plan.rootfs, () => sys.open(plan.rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC));
  try {
    const ctx: RootCtx = { sys, rootfd };
    for (const step of plan.steps) applyStep(ctx, step);
    if (plan.setupDev) setupDev(ctx, plan);
    hooks.beforePivot?.();
    about(plan.rootfs, () => enterRoot(sys, plan, rootfd));
  } finally {
    sys.close(rootfd);
  }
  if (plan.postPivotPropagation) about('/', () => sys.mount(null, '/', null, plan.postPivotPropagation, null));
  if (plan.setupDev) reopenDevNull(sys);
  if (plan.cwd) mkdirAll(sys, plan.cwd);
}

/**
 * After applyRootfs (and after sysctls are written: /proc/sys becomes read-only here): read-only
 * paths, masked paths, "ro" tmpfs and /dev remounts, and last a read-only root.
 */
export function finishRootfs(sys: Sys, plan: RootfsPlan): void {
  for (const p of plan.readonlyPaths) readonlyPath(sys, p);
  if (plan.maskedPaths.length) maskPaths(sys, plan.maskedPaths);
  for (const r of plan.readonlyRemounts) remountReadonly(sys, r.destination, r.flags);
  if (plan.readonlyRoot) setReadonlyRoot(sys);
}

/** Bind the console pty (a path in the container's devpts) onto /dev/console, after the pivot. */
export function mountConsole(sys: Sys, slavePath: string): void {
  about('/dev/console', () => {
    sys.close(sys.open('/dev/console', O.CREAT | O.NOFOLLOW | O.CLOEXEC | O.RDONLY, 0o666));
    sys.mount(slavePath, '/dev/console', null, MS.BIND, null);
  });
}

/** pivot_root refuses a shared parent, and a bind under a shared parent would leak to the host. */
function makeParentUnshared(sys: Sys, plan: RootfsPlan): void {
  let last: unknown;
  for (const p of plan.parentCandidates) {
    try {
      sys.mount(null, p, null, plan.parentPropagation, null);
      return;
    } catch (e) {
      last = e;
      if (!isErrno(e, 'EINVAL')) break; // EINVAL: not a mountpoint, try its parent
    }
  }
  throw last;
}

function applyStep(ctx: RootCtx, step: RootfsStep): void {
  if (step.op === 'symlink') {
    const shown = '/' + step.rel;
    about(shown, () => {
      const dirfd = openDirInRoot(ctx, dirnameOf(shown).slice(1), shown);
      try {
        ignoring(['EEXIST'], () => ctx.sys.symlinkat(step.target, dirfd, basenameOf(shown)));
      } finally {
        ctx.sys.close(dirfd);
      }
    });
    return;
  }
  about(step.destination, () => mountOne(ctx, step));
}

function mountOne(ctx: RootCtx, m: PlannedMount): void {
  const { sys } = ctx;
  const noSymlinks = m.kind === 'proc' || m.kind === 'sysfs';
  const r = createInRoot(ctx, m.rel, m.dstIsFile ? 'file' : 'dir', noSymlinks, m.destination);
  if (r.path === '') throw new MountpointError('mount', ERRNO.EINVAL, m.destination, 'resolves to the container root');
  const problem = procMountProblem(r.path, m.kind === 'proc' || (m.kind === 'bind' && m.srcIsProcfs));
  if (problem) throw new MountpointError('mount', ERRNO.EPERM, m.destination, problem);

  let fd = openResolved(ctx, r.path, 0, noSymlinks);
  // tmpcopyup: the covered directory, still reachable through this fd once the tmpfs is on top
  let covered = -1;
  try {
    let data = m.data;
    if (m.copyMode && !r.created) {
      const mode = `mode=${(sys.fstat(fd).mode & 0o7777).toString(8).padStart(4, '0')}`;
      data = data ? `${mode},${data}` : mode;
    }
    if (m.copyUp && !r.created) covered = sys.open(procFd(fd), O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    try {
      if (m.idmap?.treeFd !== undefined) attachTree(sys, m.idmap.treeFd, fd);
      else sys.mount(m.source, procFd(fd), m.fstype, m.flags, data);
    } catch (e) {
      if (m.fallback && e instanceof SyscallError && m.fallbackOn?.includes(e.code)) {
        sys.close(fd);
        fd = -1;
        mountOne(ctx, m.fallback);
        return;
      }
      throw e;
    }
    // The fd still points at the covered directory: reopen to reach the new mount.
    sys.close(fd);
    fd = -1;
    fd = openResolved(ctx, r.path, 0, noSymlinks);
    if (covered >= 0) copyUp(sys, covered, fd);
    if (m.remountFlags) bindRemount(sys, m, procFd(fd));
    for (const p of m.propagation) sys.mount(null, procFd(fd), null, p, null);
    if (m.recursiveAttr) sys.mountSetattr(AT.FDCWD, procFd(fd), AT.RECURSIVE, m.recursiveAttr);
  } finally {
    if (fd >= 0) sys.close(fd);
    if (covered >= 0) sys.close(covered);
  }
}

/** Copies the covered directory into the new tmpfs (its mode came with the mount's mode= option). */
function copyUp(sys: Sys, covered: number, mountFd: number): void {
  const root = sys.open(procFd(mountFd), O.RDONLY | O.DIRECTORY | O.CLOEXEC);
  try {
    copyTree(sys, covered, root);
  } finally {
    sys.close(root);
  }
}

/** An idmapped bind: the detached tree tsrun cloned and idmapped before the fork goes in place. */
function attachTree(sys: Sys, treeFd: number, targetFd: number): void {
  try {
    sys.moveMount(treeFd, '', targetFd, '', MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH);
  } finally {
    sys.close(treeFd);
  }
}

/**
 * MS_BIND ignores the other flags: apply them with MS_BIND|MS_REMOUNT. In a user namespace the
 * kernel refuses to drop flags locked on the source mount (EPERM), so retry with those kept, unless
 * the config explicitly asked to clear one of them (runc does the same).
 */
function bindRemount(sys: Sys, m: PlannedMount, target: string): void {
  try {
    sys.mount(null, target, null, m.remountFlags, null);
    return;
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    const src = statfsToMountFlags(sys.statfsFlags(m.source!));
    const cannotClear = src & m.clearedFlags & LOCKABLE_FLAGS;
    if (cannotClear) throw new MountpointError('mount', e.errno, m.destination, `cannot clear locked flags ${describeMountFlags(cannotClear)} of ${m.source}`);
    const wantAtime = m.remountFlags & ATIME_FLAGS;
    if (wantAtime && wantAtime !== (src & ATIME_FLAGS)) {
      throw new MountpointError('mount', e.errno, m.destination, `cannot change locked atime flags ${describeMountFlags(src & ATIME_FLAGS)} of ${m.source}`);
    }
    sys.mount(null, target, null, m.remountFlags | (src & LOCKABLE_FLAGS), null);
  }
}

function setupDev(ctx: RootCtx, plan: RootfsPlan): void {
  const { sys } = ctx;
  for (const d of plan.devices) about(d.path, () => createDevice(ctx, d, plan.bindDevices));
  const devfd = about('/dev', () => openDirInRoot(ctx, 'dev', '/dev'));
  try {
    about('/dev/ptmx', () => {
      ignoring(['ENOENT'], () => sys.unlinkat(devfd, 'ptmx', 0));
      sys.symlinkat('pts/ptmx', devfd, 'ptmx');
    });
    for (const l of plan.devSymlinks) {
      about('/' + l.rel, () => ignoring(['EEXIST'], () => sys.symlinkat(l.target, devfd, basenameOf(l.rel))));
    }
    if (plan.consoleFile) {
      about('/dev/console', () => sys.close(sys.openat(devfd, 'console', O.CREAT | O.NOFOLLOW | O.CLOEXEC | O.RDONLY, 0o666)));
    }
  } finally {
    sys.close(devfd);
  }
}

function createDevice(ctx: RootCtx, d: PlannedDevice, bind: boolean): void {
  const { sys } = ctx;
  const dirfd = openDirInRoot(ctx, d.parentRel, d.path);
  try {
    if (bind) return bindDevice(sys, dirfd, d);
    try {
      sys.mknodat(dirfd, d.name, d.mode, d.major, d.minor);
    } catch (e) {
      if (isErrno(e, 'EEXIST')) return;
      if (isErrno(e, 'EPERM')) return bindDevice(sys, dirfd, d);
      throw e;
    }
    // Check what was made before changing it (the name could have been swapped meanwhile).
    const fd = sys.openat(dirfd, d.name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
    try {
      const st = sys.fstat(fd);
      if ((st.mode & S.IFMT) !== (d.mode & S.IFMT) || st.rdev.major !== d.major || st.rdev.minor !== d.minor) {
        throw new MountpointError('mknod', ERRNO.EEXIST, d.path, `new device node has type ${(st.mode & S.IFMT).toString(8)} ${st.rdev.major}:${st.rdev.minor}, expected ${(d.mode & S.IFMT).toString(8)} ${d.major}:${d.minor}`);
      }
      // mknod is subject to the umask; chmod/chown through the fd's magic link (O_PATH fds allow no fchmod).
      sys.chmod(procFd(fd), d.mode & 0o7777);
      sys.fchownat(AT.FDCWD, procFd(fd), d.uid, d.gid, 0);
    } finally {
      sys.close(fd);
    }
  } finally {
    sys.close(dirfd);
  }
}

/** In a user namespace mknod is refused: bind the host's node onto an empty file instead. */
function bindDevice(sys: Sys, dirfd: number, d: PlannedDevice): void {
  const fd = sys.openat(dirfd, d.name, O.CREAT | O.NOFOLLOW | O.CLOEXEC | O.RDONLY, 0);
  try {
    sys.mount(d.path, procFd(fd), 'bind', MS.BIND, null);
  } finally {
    sys.close(fd);
  }
}

function enterRoot(sys: Sys, plan: RootfsPlan, rootfd: number): void {
  sys.fchdir(rootfd);
  if (plan.pivot === 'pivot_root') {
    // pivot_root(".", ".") stacks the old root on top of the new one; detach it from there.
    const oldroot = sys.open('/', O.DIRECTORY | O.RDONLY | O.PATH | O.CLOEXEC);
    try {
      sys.pivotRoot('.', '.');
      sys.fchdir(oldroot);
      sys.mount(null, '.', null, MS.SLAVE | MS.REC, null); // never propagate the unmount to the host
      sys.umount2('.', MNT.DETACH);
    } finally {
      sys.close(oldroot);
    }
  } else {
    // chroot leaves the host's proc and sysfs reachable in this namespace; the kernel then allows
    // new procfs mounts. Detach (or cover) the full ones first, as runc does.
    for (const p of plan.noPivotHide) {
      try {
        sys.mount(null, p, null, MS.SLAVE | MS.REC, null);
      } catch (e) {
        if (isErrno(e, 'ENOENT')) continue;
        throw e;
      }
      try {
        sys.umount2(p, MNT.DETACH);
      } catch (e) {
        if (!isErrno(e, 'EINVAL') && !isErrno(e, 'EPERM')) throw e;
        sys.mount('tmpfs', p, 'tmpfs', 0, null);
      }
    }
    sys.mount(plan.rootfs, '/', null, MS.MOVE, null);
    sys.chroot('.');
  }
  sys.chdir('/');
}

/** Standard streams that are the host's /dev/null become the container's /dev/null. */
function reopenDevNull(sys: Sys): void {
  const nullfd = about('/dev/null', () => sys.open('/dev/null', O.RDWR | O.CLOEXEC));
  try {
    const st = sys.fstat(nullfd);
    if (!isDevNull(st.mode, st.rdev)) throw new MountpointError('open', ERRNO.ENODEV, '/dev/null', 'the container\'s /dev/null is not the null device');
    for (let fd = 0; fd < 3; fd++) {
      let s;
      try {
        s = sys.fstat(fd);
      } catch (e) {
        if (isErrno(e, 'EBADF')) continue;
        throw e;
      }
      if (isDevNull(s.mode, s.rdev)) sys.dup3(nullfd, fd, 0);
    }
  } finally {
    sys.close(nullfd);
  }
}

function isDevNull(mode: number, rdev: { major: number; minor: number }): boolean {
  return (mode & S.IFMT) === S.IFCHR && rdev.major === 1 && rdev.minor === 3;
}

function mkdirAll(sys: Sys, abs: string): void {
  let p = '';
  for (const c of abs.split('/').filter(Boolean)) {
    p += '/' + c;
    about(p, () => ignoring(['EEXIST'], () => sys.mkdir(p, 0o755)));
  }
}

function readonlyPath(sys: Sys, p: string): void {
  about(p, () => {
    try {
      sys.mount(p, p, null, MS.BIND | MS.REC, null);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    const keep = sys.statfsFlags(p) & (ST.NOSUID | ST.NODEV | ST.NOEXEC); // same bits as MS_*
    sys.mount(p, p, null, keep | MS.BIND | MS.REMOUNT | MS.RDONLY, null);
  });
}

function maskPaths(sys: Sys, paths: string[]): void {
  const st = about('/dev/null', () => sys.lstat('/dev/null'));
  if (!isDevNull(st.mode, st.rdev)) throw new MountpointError('mount', ERRNO.ENODEV, '/dev/null', 'cannot mask paths: /dev/null is not the null device');
  for (const p of paths) {
    about(p, () => {
      let fd: number;
      try {
        fd = sys.open(p, O.PATH | O.CLOEXEC);
      } catch (e) {
        if (isErrno(e, 'ENOENT')) return;
        throw e;
      }
      let isDir: boolean;
      try {
        isDir = (sys.fstat(fd).mode & S.IFMT) === S.IFDIR;
      } finally {
        sys.close(fd);
      }
      if (!isDir) return sys.mount('/dev/null', p, null, MS.BIND, null);
      try {
        sys.mount('tmpfs', p, 'tmpfs', MS.RDONLY, 'nr_blocks=1,nr_inodes=1');
      } catch {
        // Some distribution kernels refuse nr_inodes=1.
        sys.mount('tmpfs', p, 'tmpfs', MS.RDONLY, 'nr_blocks=1,nr_inodes=2');
      }
    });
  }
}

function remountReadonly(sys: Sys, dest: string, flags: number): void {
  const f = flags | MS.REMOUNT | MS.BIND | MS.RDONLY;
  for (let attempt = 0; ; attempt++) {
    try {
      about(dest, () => sys.mount(null, dest, null, f, null));
      return;
    } catch (e) {
      if (!isErrno(e, 'EBUSY') || attempt === 4) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // a synchronous sleep
    }
  }
}

function setReadonlyRoot(sys: Sys): void {
  const flags = MS.BIND | MS.REMOUNT | MS.RDONLY;
  about('/', () => {
    try {
      sys.mount(null, '/', null, flags, null);
    } catch {
      sys.mount(null, '/', null, flags | (statfsToMountFlags(sys.statfsFlags('/')) & LOCKABLE_FLAGS), null);
    }
  });
}
