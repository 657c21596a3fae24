// Errors of the cgroup manager: one line naming the file, the value and (when it came from the
// config) the JSON field, e.g.
//   cgroup: write 8388608 to /sys/fs/cgroup/memory/tsrun/x/memory.limit_in_bytes: EBUSY
export class CgroupError extends Error {
  /** errno name when a file operation failed (EBUSY, ENOENT, ...). */
  readonly code?: string;
  readonly path?: string;
  readonly value?: string;
  /** JSON path in config.json, e.g. "linux.resources.memory.limit". */
  readonly field?: string;

  constructor(message: string, details: { code?: string; path?: string; value?: string; field?: string } = {}) {
    super(details.field && !message.includes(details.field) ? `${message} (${details.field})` : message);
    this.name = 'CgroupError';
    this.code = details.code;
    this.path = details.path;
    this.value = details.value;
    this.field = details.field;
  }
}

export function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Wrap a failed file operation: `cgroup: <op> <value> to <path>: <CODE>`. */
export function fileError(op: 'write' | 'read' | 'mkdir' | 'rmdir' | 'open', path: string, err: unknown, value?: string, field?: string): CgroupError {
  if (err instanceof CgroupError) return err;
  const code = errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
  const what = op === 'write' ? `write ${JSON.stringify(value ?? '').slice(1, -1)} to ${path}` : `${op} ${path}`;
  return new CgroupError(`cgroup: ${what}: ${code}`, { code: errnoCode(err), path, value, field });
}
