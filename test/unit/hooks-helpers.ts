// Shared by the hooks-*.test.ts files: temp dirs, hook scripts, and running code in a forked child.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sys } from '../../runtime/sys/sys.js';
import { linuxSys } from '../../runtime/sys/linux.js';
import { O, POLLIN } from '../../runtime/sys/constants.js';
import type { State } from '../../spec/types.js';

export function makeTempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tsrun-test-hooks-'));
}

export function removeTempDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Writes an executable `#!/bin/sh` script and returns its path. */
export function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/**
 * A hook that records what it saw into `$1/`: stdin, its argv and environ exactly as execve gave
 * them (NUL-separated files from /proc), and its uts/mnt namespace links.
 */
export function recorderScript(dir: string): string {
  return script(
    dir,
    'recorder.sh',
    [
      'out="$1"',
      'cat > "$out/stdin"',
      'cat /proc/$$/cmdline > "$out/cmdline"',
      'cat /proc/$$/environ > "$out/environ"',
      'readlink /proc/$$/ns/uts > "$out/uts"',
      'readlink /proc/$$/ns/mnt > "$out/mnt"',
    ].join('\n'),
  );
}

export function nulList(data: string): string[] {
  return data === '' ? [] : data.replace(/\0$/, '').split('\0');
}

export function sampleState(overrides: Partial<State> = {}): State {
  return {
    ociVersion: '1.2.0',
    id: 'hook-test',
    status: 'creating',
    pid: 4242,
    bundle: '/var/lib/tsrun-test/bundle',
    annotations: { 'org.example.key': 'value with "quotes" and ünicode' },
    ...overrides,
  };
}

export interface ForkResult {
  code: number;
  signal: number;
  message: string;
}

/**
 * Runs `child` in a forked copy of this process (Sys calls only in there) and returns what it
 * returned (or `ERROR <name>: <message>` with exit code 1). `whilePaused` runs in the parent after
 * the child's result arrived and before the child exits, e.g. to read its /proc entries.
 */
export function inFork(
  child: (sys: Sys) => string,
  whilePaused?: (pid: number, message: string) => void,
  timeoutMs = 20_000,
): ForkResult {
  const sys = linuxSys;
  const [resultR, resultW] = sys.pipe2(O.CLOEXEC);
  const [goR, goW] = sys.pipe2(O.CLOEXEC);
  const pid = sys.fork();
  if (pid === 0) {
    // Drop the parent's ends, or the child's own copy of goW would keep its read from seeing EOF.
    sys.close(resultR);
    sys.close(goW);
    let code = 0;
    let message: string;
    try {
      message = child(sys);
    } catch (e) {
      code = 1;
      message = `ERROR ${(e as Error)?.name}: ${(e as Error)?.message ?? String(e)}`;
    }
    try {
      sys.write(resultW, Buffer.from(message));
      sys.close(resultW);
      sys.read(goR, Buffer.alloc(1));
    } catch {
      code = 2;
    }
    return sys.exit(code);
  }
  sys.close(resultW);
  sys.close(goR);
  let message = '';
  let finished = false;
  try {
    const deadline = Date.now() + timeoutMs;
    const buf = Buffer.alloc(65536);
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`forked child ${pid} did not answer within ${timeoutMs} ms`);
      const [ev] = sys.poll([{ fd: resultR, events: POLLIN }], left);
      if (!ev) continue;
      const n = sys.read(resultR, buf);
      if (n === 0) break;
      message += buf.subarray(0, n).toString();
    }
    whilePaused?.(pid, message);
    finished = true;
  } finally {
    sys.close(resultR);
    sys.close(goW);
    if (!finished) {
      try {
        sys.kill(pid, 9);
      } catch {
        // gone
      }
    }
  }
  const { status } = sys.waitpid(pid, 0);
  return { code: (status >> 8) & 0xff, signal: status & 0x7f, message };
}
