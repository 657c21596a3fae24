// What a failed hook looks like to the rest of tsrun. No Node imports: the forked init uses it too.
import type { HookName } from '../spec/types.js';

export type HookKind = HookName;

/** Why a hook failed, in machine-readable form. */
export type HookFailure =
  | { type: 'exit'; code: number }
  | { type: 'signal'; signal: number }
  | { type: 'timeout'; seconds: number }
  | { type: 'exec'; code: string } // could not be started (errno name)
  | { type: 'invalid'; problem: string }; // the hook entry itself is unusable

/**
 * `createRuntime hook #0 (/usr/bin/foo) failed: exit status 3: <first line of its stderr>`.
 * `output` keeps the (bounded) stderr, or stdout when stderr was empty.
 */
export class HookError extends Error {
  readonly kind: HookKind;
  readonly index: number;
  readonly path: string;
  readonly reason: string;
  readonly failure: HookFailure;
  readonly output: string;

  constructor(kind: HookKind, index: number, path: string, failure: HookFailure, output = '') {
    const reason = describeFailure(failure);
    const first = firstLine(output);
    super(`${kind} hook #${index} (${path}) failed: ${reason}${first ? `: ${first}` : ''}`);
    this.name = 'HookError';
    this.kind = kind;
    this.index = index;
    this.path = path;
    this.reason = reason;
    this.failure = failure;
    this.output = output;
  }
}

const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS',
  8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE',
  14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ', 31: 'SIGSYS',
};

const EXEC_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  ENOEXEC: 'exec format error',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  ETXTBSY: 'text file busy',
  E2BIG: 'argument list too long',
  ENOMEM: 'out of memory',
  EISDIR: 'is a directory',
};

export function describeFailure(f: HookFailure): string {
  switch (f.type) {
    case 'exit':
      return `exit status ${f.code}`;
    case 'signal':
      return `killed by signal ${f.signal}${SIGNAL_NAMES[f.signal] ? ` (${SIGNAL_NAMES[f.signal]})` : ''}`;
    case 'timeout':
      return `timed out after ${f.seconds}s (killed)`;
    case 'exec':
      return `cannot execute: ${EXEC_ERRORS[f.code] ? `${EXEC_ERRORS[f.code]} (${f.code})` : f.code}`;
    case 'invalid':
      return f.problem;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const t = line.trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}
