// How a config.json hook entry becomes a program to run. Shared by both runners; no Node imports.
import type { Hook } from '../spec/types.js';
import type { HookFailure } from './errors.js';

/** Bytes of stdout and of stderr kept per hook for the error message. */
export const OUTPUT_LIMIT = 4096;

export interface HookCommand {
  path: string;
  /** argv including argv[0]; `[path]` when the hook has no args (as execv callers conventionally do). */
  argv: string[];
  /** Exactly the hook's env; empty when it has none (the runtime's own environment never leaks in). */
  env: string[];
  /** Milliseconds, or undefined for no limit. */
  timeoutMs?: number;
  timeoutSeconds?: number;
}

/** Checks what the schema also checks, so a bad entry fails as a HookError instead of a crash. */
export function hookCommand(hook: Hook): HookCommand | { invalid: HookFailure } {
  const path = hook?.path;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    return { invalid: { type: 'invalid', problem: `path ${JSON.stringify(path)} is not absolute` } };
  }
  const t = hook.timeout;
  if (t !== undefined && t !== null && !(typeof t === 'number' && Number.isFinite(t) && t > 0)) {
    return { invalid: { type: 'invalid', problem: `timeout ${JSON.stringify(t)} must be a number of seconds greater than zero` } };
  }
  const argv = hook.args && hook.args.length > 0 ? [...hook.args] : [path];
  const timeoutSeconds = typeof t === 'number' ? t : undefined;
  return {
    path,
    argv,
    env: hook.env ? [...hook.env] : [],
    timeoutSeconds,
    timeoutMs: timeoutSeconds === undefined ? undefined : Math.ceil(timeoutSeconds * 1000),
  };
}

/** Collects a stream's bytes up to OUTPUT_LIMIT; the rest is counted and dropped. */
export class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  dropped = 0;

  add(chunk: Buffer): void {
    const room = OUTPUT_LIMIT - this.kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(Buffer.from(part));
      this.kept += part.length;
    }
    this.dropped += Math.max(0, chunk.length - Math.max(room, 0));
  }

  text(): string {
    const s = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `${s}… (${this.dropped} more bytes)` : s;
  }
}

/** What goes into the error: stderr, or stdout when the hook said nothing on stderr. */
export function failureOutput(stdout: BoundedOutput, stderr: BoundedOutput): string {
  const err = stderr.text();
  return err.trim() !== '' ? err : stdout.text();
}
