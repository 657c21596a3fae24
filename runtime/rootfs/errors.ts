import { SyscallError } from '../sys/errors.js';

/** A config.json value the rootfs setup cannot use; `jsonPath` names it, e.g. `mounts[3].options`. */
export class RootfsConfigError extends Error {
  readonly jsonPath: string;
  constructor(jsonPath: string, problem: string) {
    super(`${jsonPath}: ${problem}`);
    this.name = 'RootfsConfigError';
    this.jsonPath = jsonPath;
  }
}

/**
 * A refusal inside the init child that is not a failed system call (a mountpoint that is a symlink,
 * a mount over /proc, ...). It is a SyscallError so the lead's sync channel carries it the same
 * way ({call, errno, path}); the message says why.
 */
export class MountpointError extends SyscallError {
  constructor(call: string, errno: number, path: string, reason: string) {
    super(call, errno, path);
    this.name = 'MountpointError';
    this.message = `${call} ${path}: ${reason}`;
  }
}
