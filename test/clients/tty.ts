// Running a client command on a terminal: util-linux `script` gives it a pty as stdin/stdout, and
// copies `input` (typed ahead, buffered by the pty) into it. `script -e` exits with the command's code.
import { run, type Result } from '../support/containers.js';

export function shellQuote(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Run `argv` on a fresh pty; stdout is what the terminal showed, with \r removed. */
export function onTerminal(argv: string[], input: string, env?: NodeJS.ProcessEnv): Result {
  const r = run('script', ['-qec', shellQuote(argv), '/dev/null'], { input, timeout: 60_000, ...(env ? { env } : {}) });
  return { ...r, stdout: r.stdout.replace(/\r/g, '') };
}
