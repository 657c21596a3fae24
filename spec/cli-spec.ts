// `tsrun spec [--bundle DIR] [--rootless]`: writes an example config.json, as `runc spec` does
// (tab-indented, never over an existing file).
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultSpec, rootlessSpec } from './defaults.js';

export class SpecExistsError extends Error {
  override name = 'SpecExistsError';
  constructor(readonly file: string) {
    super(`File ${file} exists. Remove it first`);
  }
}

export async function specCommand(opts: { bundle?: string; rootless?: boolean }): Promise<void> {
  const file = join(resolve(opts.bundle ?? '.'), 'config.json');
  const spec = opts.rootless ? rootlessSpec() : defaultSpec();
  try {
    // "wx" is O_EXCL: refuses an existing file (or symlink) without a check-then-write race.
    writeFileSync(file, JSON.stringify(spec, null, '\t'), { flag: 'wx', mode: 0o666 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new SpecExistsError(opts.bundle ? file : 'config.json');
    if (code === 'ENOENT') throw new Error(`bundle directory ${resolve(opts.bundle ?? '.')} does not exist`, { cause: err });
    throw err;
  }
}
