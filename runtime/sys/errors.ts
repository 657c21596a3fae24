import { errnoName } from './constants.js';

/** A failed system call: which call, the errno (number and name), and the path it was about. */
export class SyscallError extends Error {
  readonly call: string;
  readonly errno: number;
  readonly code: string;
  readonly path?: string;

  constructor(call: string, errno: number, path?: string) {
    const code = errnoName(errno);
    super(path === undefined ? `${call}: ${code}` : `${call} ${path}: ${code}`);
    this.name = 'SyscallError';
    this.call = call;
    this.errno = errno;
    this.code = code;
    this.path = path;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return err instanceof SyscallError ? err.code === code : (err as NodeJS.ErrnoException)?.code === code;
}
