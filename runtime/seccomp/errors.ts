/** A seccomp profile that cannot be compiled; `path` is the JSON path of the offending value. */
export class SeccompError extends Error {
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'SeccompError';
    this.path = path;
  }
}
