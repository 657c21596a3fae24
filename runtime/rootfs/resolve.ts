// Resolving and creating paths inside the rootfs from the init child, so that no symlink in the
// image can send a mount outside it (CVE-2021-30465). Only Sys calls; runs before pivot_root, while
// the host /proc is still reachable.
import type { Sys } from '../sys/sys.js';
import { SyscallError, isErrno } from '../sys/errors.js';
import { ERRNO, O, RESOLVE, S } from '../sys/constants.js';
import { MountpointError } from './errors.js';
import { components } from './paths.js';

export interface RootCtx {
  sys: Sys;
  /** O_PATH fd of the rootfs (after it was mounted on itself). */
  rootfd: number;
}

const MAX_SYMLINKS = 40;
const STEP_RESOLVE = RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS;
export const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;

export function procFd(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

export interface Resolved {
  /** Symlink-free path relative to the rootfs ("" = the rootfs itself). */
  path: string;
  /** The last component did not exist and was created. */
  created: boolean;
}

/**
 * Walk `rel` one component at a time under the rootfs, following symlinks as RESOLVE_IN_ROOT does
 * (absolute targets restart at the rootfs, ".." stops at it) and creating what is missing: mkdirat
 * for directories, an empty file for the last component when `want` is 'file'. With `noSymlinks`,
 * any symlink on the way is refused (proc and sysfs go only on ordinary directories).
 */
export function createInRoot(ctx: RootCtx, rel: string, want: 'dir' | 'file', noSymlinks: boolean, shown: string): Resolved {
  const { sys, rootfd } = ctx;
  // Fast path, one call: the path exists and has no symlink at all, so it resolves to itself.
  if (rel !== '' && !components(rel).includes('..')) {
    try {
      sys.close(sys.openat2(rootfd, rel, O.PATH | O.CLOEXEC | (noSymlinks ? O.DIRECTORY : 0), 0, RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS));
      return { path: components(rel).join('/'), created: false };
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e; // ENOENT, ELOOP, ENOTDIR...: the walk below sorts it out
    }
  }
  const pending = components(rel).reverse();
  const done: string[] = [];
  let dirfd = rootfd;
  let links = 0;
  let created = false;
  const setDir = (fd: number) => {
    if (dirfd !== rootfd) sys.close(dirfd);
    dirfd = fd;
  };
  try {
    while (pending.length) {
      const c = pending.pop()!;
      if (c === '..') {
        done.pop();
        setDir(done.length ? sys.openat2(rootfd, done.join('/'), O.PATH | O.DIRECTORY | O.CLOEXEC, 0, IN_ROOT) : rootfd);
        continue;
      }
      const last = pending.length === 0;
      created = false;
      let fd: number;
      try {
        fd = sys.openat2(dirfd, c, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, STEP_RESOLVE);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
        if (last && want === 'file') {
          sys.close(sys.openat2(dirfd, c, O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC | O.RDONLY, 0o644, STEP_RESOLVE));
        } else {
          try {
            sys.mkdirat(dirfd, c, 0o755);
          } catch (e2) {
            if (!isErrno(e2, 'EEXIST')) throw e2;
          }
        }
        created = true;
        fd = sys.openat2(dirfd, c, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, STEP_RESOLVE);
      }
      const type = sys.fstat(fd).mode & S.IFMT;
      if (type === S.IFLNK) {
        sys.close(fd);
        if (noSymlinks) throw new MountpointError('mount', ERRNO.ENOTDIR, shown, `"/${[...done, c].join('/')}" is a symlink; this filesystem must be mounted on an ordinary directory`);
        if (++links > MAX_SYMLINKS) throw new SyscallError('openat2', ERRNO.ELOOP, shown);
        const target = sys.readlink(`${procFd(dirfd)}/${c}`);
        if (target.startsWith('/')) {
          done.length = 0;
          setDir(rootfd);
        }
        pending.push(...components(target).reverse());
        continue;
      }
      if (!last && type !== S.IFDIR) {
        sys.close(fd);
        throw new SyscallError('openat2', ERRNO.ENOTDIR, shown);
      }
      if (last && noSymlinks && type !== S.IFDIR) {
        sys.close(fd);
        throw new MountpointError('mount', ERRNO.ENOTDIR, shown, `"/${[...done, c].join('/')}" is not a directory; this filesystem must be mounted on an ordinary directory`);
      }
      done.push(c);
      setDir(fd);
    }
  } finally {
    if (dirfd !== rootfd) sys.close(dirfd);
  }
  return { path: done.join('/'), created };
}

/** O_PATH fd of an already resolved path, opened with RESOLVE_IN_ROOT (the top mount on it). */
export function openResolved(ctx: RootCtx, path: string, extraFlags = 0, noSymlinks = false): number {
  const resolve = noSymlinks ? RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS : IN_ROOT;
  return ctx.sys.openat2(ctx.rootfd, path || '.', O.PATH | O.CLOEXEC | extraFlags, 0, resolve);
}

/** Resolve (creating as needed) a directory under the rootfs and return an O_PATH fd on it. */
export function openDirInRoot(ctx: RootCtx, rel: string, shown: string): number {
  const r = createInRoot(ctx, rel, 'dir', false, shown);
  return openResolved(ctx, r.path, O.DIRECTORY);
}
