// The Node binary that create, run and exec run on, sealed against CVE-2019-5736.
//
// A container's init is a fork of tsrun's Node, so /proc/self/exe of the init is the host's Node
// binary. An entrypoint like `#!/proc/self/exe` makes the kernel execute that binary inside the
// container, where the process may keep a handle on it and write to it once no Node runs any more
// (ETXTBSY only lasts while it runs): the next tsrun would run the container's code as host root.
// runc answers by re-executing itself from a sealed memfd or a read-only overlay; Node is ~100 MB
// and a second Node start costs ~40 ms, so tsrun instead runs from one copy per Node build marked
// immutable (FS_IMMUTABLE_FL): nobody, root included, can open it for writing without
// CAP_LINUX_IMMUTABLE, which no default container has.
//
// The launcher (runtime/bin/tsrun) picks the copy by the same key this file computes, and runs
// `tsrun seal-node` the first time a root user needs it.
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sys } from '../sys/sys.js';
import { LOCK, O } from '../sys/constants.js';
import { SyscallError } from '../sys/errors.js';

export const SEALED_NODE_DIR = '/var/lib/tsrun/exe';

const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_IMMUTABLE_FL = 0x10;
/** What FS_IOC_[GS]ETFLAGS fail with on a filesystem that has no inode flags. */
const NO_FLAGS = new Set(['ENOTTY', 'EOPNOTSUPP', 'EINVAL']);

/** The launcher's `stat -L -c '%d-%i-%s-%Y'`: a new key whenever the Node binary is replaced. */
export function sealKey(nodeBinary: string): string {
  const st = statSync(nodeBinary, { bigint: true });
  return `${st.dev}-${st.ino}-${st.size}-${st.mtimeMs / 1000n}`;
}

export class SealError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'SealError';
  }
}

export interface SealResult {
  path: string;
  created: boolean;
}

/**
 * Seals `nodeBinary` (normally the Node running this) into dir/<key>/node and removes the copies
 * of Node builds no longer installed. Where the filesystem has no immutable flag, writes
 * dir/<key>.unsupported so the launcher stops asking, and throws.
 */
export function sealNode(sys: Sys, nodeBinary: string, dir = SEALED_NODE_DIR): SealResult {
  if (process.geteuid?.() !== 0) throw new SealError('seal-node: only root can seal Node (rootless containers do not need it: their root is not the host\'s)', 'EPERM');
  const key = sealKey(nodeBinary);
  const path = join(dir, key, 'node');
  if (isImmutable(sys, path)) return { path, created: false };

  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // Many first containers may start at once: one copy is made, the others wait for it.
  const lock = sys.open(join(dir, '.lock'), O.RDWR | O.CREAT | O.CLOEXEC, 0o600);
  try {
    sys.flock(lock, LOCK.EX);
    if (isImmutable(sys, path)) return { path, created: false };
    sealLocked(sys, nodeBinary, dir, key);
    return { path, created: true };
  } finally {
    sys.close(lock);
  }
}

function sealLocked(sys: Sys, nodeBinary: string, dir: string, key: string): void {
  const dest = join(dir, key);
  const tmp = join(dir, `.tmp-${process.pid}`);
  removeSealed(sys, tmp);
  mkdirSync(tmp, { mode: 0o755 });
  const tmpNode = join(tmp, 'node');
  try {
    copyFileSync(nodeBinary, tmpNode);
    const fd = openSync(tmpNode, 'r');
    fsyncSync(fd);
    closeSync(fd);
    setImmutable(sys, tmpNode, true, 0o555);
  } catch (e) {
    removeSealed(sys, tmp);
    const code = (e as SyscallError).code;
    if (NO_FLAGS.has(code)) {
      writeFileSync(`${dest}.unsupported`, `${code}\n`);
      throw new SealError(`seal-node: ${dir} is on a filesystem without the immutable attribute (${code}); containers run on the unsealed Node, see README "Security"`, code);
    }
    throw e;
  }
  removeSealed(sys, dest); // a copy whose seal was lost (e.g. chattr -i by hand) is made again
  renameSync(tmp, dest);
  removeStale(sys, dir, key);
}

/** Removes every sealed copy (for uninstalling: `rm -rf` cannot, the files are immutable). */
export function removeSealedNodes(sys: Sys, dir = SEALED_NODE_DIR): void {
  if (existsSync(dir)) removeSealed(sys, dir);
}

/** Copies of Node builds no longer installed, and temp dirs of seals that died (we hold the lock). */
function removeStale(sys: Sys, dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    if (name !== keep && name !== '.lock') removeSealed(sys, join(dir, name));
  }
}

function removeSealed(sys: Sys, path: string): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) removeSealed(sys, join(path, name));
  } else {
    try {
      setImmutable(sys, path, false);
    } catch (e) {
      // a filesystem without inode flags has nothing to clear
      if (!NO_FLAGS.has((e as SyscallError).code)) throw e;
    }
  }
  rmSync(path, { recursive: true, force: true });
}

function isImmutable(sys: Sys, path: string): boolean {
  if (!existsSync(path)) return false;
  return (withFlags(sys, path, (flags) => flags) & FS_IMMUTABLE_FL) !== 0;
}

function setImmutable(sys: Sys, path: string, on: boolean, mode?: number): void {
  withFlags(sys, path, (flags, fd) => {
    if (mode !== undefined) sys.fchmod(fd, mode);
    const want = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
    if (want !== flags) {
      const buf = Buffer.alloc(8);
      buf.writeInt32LE(want);
      sys.ioctl(fd, FS_IOC_SETFLAGS, buf);
    }
    return want;
  });
}

function withFlags(sys: Sys, path: string, use: (flags: number, fd: number) => number): number {
  const fd = sys.open(path, O.RDONLY | O.CLOEXEC | O.NOFOLLOW);
  try {
    const buf = Buffer.alloc(8);
    sys.ioctl(fd, FS_IOC_GETFLAGS, buf);
    return use(buf.readInt32LE(0), fd);
  } finally {
    sys.close(fd);
  }
}
