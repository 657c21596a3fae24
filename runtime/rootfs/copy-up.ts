// "tmpcopyup" (runc and crun; podman asks for it on every --tmpfs): a tmpfs mounted over a
// directory of the image starts with a copy of what that directory held. Runs in the init, before
// pivot_root, from a directory fd taken before the tmpfs covered it to the new tmpfs's root.
// Only *at calls on directory fds, never following a symlink: the image's content cannot lead the
// copy outside either tree. Owners, modes and modification times are kept; hard links are not; an
// owner the container's user namespace cannot represent stays the copier's.
import type { Sys } from '../sys/sys.js';
import { AT, O, S } from '../sys/constants.js';
import { isErrno } from '../sys/errors.js';
import { procFd } from './resolve.js';

const DIR_FLAGS = O.RDONLY | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC;
const CHUNK = 64 * 1024;

/** Copies the contents of directory `from` into `to`, and `from`'s owner onto `to`. */
export function copyTree(sys: Sys, from: number, to: number): void {
  const chunk = Buffer.alloc(CHUNK);
  const copyDir = (src: number, dst: number): void => {
    for (const name of sys.readdir(src)) {
      const st = sys.statat(src, name, AT.SYMLINK_NOFOLLOW);
      const type = st.mode & S.IFMT;
      const perm = st.mode & 0o7777;
      if (type === S.IFDIR) {
        sys.mkdirat(dst, name, 0o700);
        const childSrc = sys.openat(src, name, DIR_FLAGS);
        const childDst = sys.openat(dst, name, DIR_FLAGS);
        try {
          copyDir(childSrc, childDst);
          keepOwner(() => sys.fchown(childDst, st.uid, st.gid));
          sys.fchmod(childDst, perm);
        } finally {
          sys.close(childSrc);
          sys.close(childDst);
        }
      } else if (type === S.IFREG) {
        const input = sys.openat(src, name, O.RDONLY | O.NOFOLLOW | O.CLOEXEC);
        const output = sys.openat(dst, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600);
        try {
          for (let n; (n = sys.read(input, chunk)) > 0;) {
            for (let done = 0; done < n;) done += sys.write(output, chunk.subarray(done, n));
          }
          keepOwner(() => sys.fchown(output, st.uid, st.gid)); // before the mode: chown clears set-id bits
          sys.fchmod(output, perm);
        } finally {
          sys.close(input);
          sys.close(output);
        }
      } else if (type === S.IFLNK) {
        sys.symlinkat(sys.readlink(`${procFd(src)}/${name}`), dst, name);
        keepOwner(() => sys.fchownat(dst, name, st.uid, st.gid, AT.SYMLINK_NOFOLLOW));
      } else {
        sys.mknodat(dst, name, st.mode, st.rdev.major, st.rdev.minor);
        keepOwner(() => sys.fchownat(dst, name, st.uid, st.gid, AT.SYMLINK_NOFOLLOW));
        sys.fchmodat(dst, name, perm);
      }
      sys.lutimes(`${procFd(dst)}/${name}`, st.mtimeNs, st.mtimeNs);
    }
  };
  copyDir(from, to);
  const top = sys.fstat(from);
  keepOwner(() => sys.fchown(to, top.uid, top.gid));
}

/** EINVAL: the id has no mapping in the container's user namespace; EPERM: not ours to give. */
function keepOwner(chown: () => void): void {
  try {
    chown();
  } catch (e) {
    if (!isErrno(e, 'EINVAL') && !isErrno(e, 'EPERM')) throw e;
  }
}
