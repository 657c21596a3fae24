// Entering process.cwd in the child, before `ready`. After the chdir the new working
// directory must be reachable from the process root by walking "..": a cwd reached through
// "/proc/self/fd/N" (a host directory fd still held by the forked Node, or leaked by a bug) is
// outside the container's root and is refused (CVE-2024-21626). Uses only open/statx/close, which
// any seccomp profile allows (openat2 may be filtered).
import type { Sys } from '../sys/sys.js';
import { O } from '../sys/constants.js';

const MAX_DEPTH = 4096;

export class CwdError extends Error {
  constructor(cwd: string, why: string, readonly code?: string) {
    super(`process.cwd "${cwd}": ${why}`);
    this.name = 'CwdError';
  }
}

/** False only with `permissionErrorsLater` when the chdir got EACCES or EPERM. */
export function enterCwd(sys: Sys, cwd: string, opts: { permissionErrorsLater?: boolean } = {}): boolean {
  try {
    sys.chdir(cwd);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (opts.permissionErrorsLater && (code === 'EACCES' || code === 'EPERM')) return false;
    throw new CwdError(cwd, code ?? (e as Error).message, code);
  }
  if (!insideRoot(sys)) {
    throw new CwdError(cwd, 'is outside the container root (possible breakout through a leaked file descriptor, CVE-2024-21626)', 'EPERM');
  }
  return true;
}

/** Walk up from "." until the process root (inside) or the filesystem's real root (outside). */
export function insideRoot(sys: Sys): boolean {
  const root = sys.stat('/');
  let fd = sys.open('.', O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    for (let i = 0; i < MAX_DEPTH; i++) {
      const here = sys.fstat(fd);
      if (here.ino === root.ino && here.dev.major === root.dev.major && here.dev.minor === root.dev.minor) return true;
      const parent = sys.openat(fd, '..', O.PATH | O.DIRECTORY | O.CLOEXEC);
      sys.close(fd);
      fd = parent;
      const up = sys.fstat(fd);
      // ".." of a directory is itself only at the top of the whole tree: we never met our root.
      if (up.ino === here.ino && up.dev.major === here.dev.major && up.dev.minor === here.dev.minor) return false;
    }
    return false;
  } finally {
    sys.close(fd);
  }
}
