// Hooks run by the tsrun process itself (prestart, createRuntime, poststart, poststop), with
// child_process. The hooks that run inside the container's namespaces are in sync.ts.
//
// Failure policy (runtime-spec v1.3.0 runtime.md "Lifecycle"):
//   prestart, createRuntime, createContainer, startContainer, poststart: the runtime MUST generate an
//     error and stop the container -> runHooks throws at the first failure, later hooks do not run.
//     (v1.2 still said poststart failures only log a warning; v1.3 made them errors, and so do we:
//     the caller of runHooks('poststart') stops the container and fails `start`.)
//   poststop: the runtime MUST log a warning and the remaining hooks and lifecycle continue
//     -> runHooksLogged runs all of them and returns the failures.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Hook, State } from '../spec/types.js';
import { HookError, type HookKind } from './errors.js';
import { BoundedOutput, failureOutput, hookCommand } from './command.js';
import { hookStateJson } from './state.js';

/** After the hook exited, how long to wait for its pipes to close (a background child may hold them). */
const PIPE_GRACE_MS = 200;

/** Run one hook: state JSON on stdin, exactly its env, killed with SIGKILL at its timeout. */
export function runHook(kind: HookKind, index: number, hook: Hook, stateJson: string | Buffer): Promise<void> {
  const cmd = hookCommand(hook);
  if ('invalid' in cmd) return Promise.reject(new HookError(kind, index, String(hook?.path), cmd.invalid));

  return new Promise((resolve, reject) => {
    const stdout = new BoundedOutput();
    const stderr = new BoundedOutput();
    let timedOut = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;

    let child: ChildProcess;
    try {
      child = spawn(cmd.path, cmd.argv.slice(1), {
        argv0: cmd.argv[0],
        env: envObject(cmd.env),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      // Node throws (instead of emitting 'error') for some exec errnos, e.g. ENOEXEC.
      reject(new HookError(kind, index, cmd.path, { type: 'exec', code: (e as NodeJS.ErrnoException).code ?? (e as Error).message }));
      return;
    }

    const finish = (err?: HookError) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.stdin?.destroy();
      if (err) reject(err);
      else resolve();
    };

    child.stdout!.on('data', (d: Buffer) => stdout.add(d));
    child.stderr!.on('data', (d: Buffer) => stderr.add(d));
    // A hook that exits without reading its stdin gives EPIPE here: not a failure by itself.
    child.stdin!.on('error', () => {});
    child.stdout!.on('error', () => {});
    child.stderr!.on('error', () => {});

    child.on('error', (e: NodeJS.ErrnoException) => {
      // Only emitted before 'spawn' for exec failures; a later one (kill) changes nothing.
      if (child.pid === undefined) finish(new HookError(kind, index, cmd.path, { type: 'exec', code: e.code ?? e.message }));
    });

    child.on('spawn', () => {
      child.stdin!.end(stateJson);
      if (cmd.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, cmd.timeoutMs);
      }
    });

    child.on('exit', (code, signal) => {
      const verdict = () => {
        if (timedOut) return finish(new HookError(kind, index, cmd.path, { type: 'timeout', seconds: cmd.timeoutSeconds! }, failureOutput(stdout, stderr)));
        if (signal) return finish(new HookError(kind, index, cmd.path, { type: 'signal', signal: signalNumber(signal) }, failureOutput(stdout, stderr)));
        if (code !== 0) return finish(new HookError(kind, index, cmd.path, { type: 'exit', code: code ?? -1 }, failureOutput(stdout, stderr)));
        finish();
      };
      if (timer) clearTimeout(timer);
      // Collect what is still in the pipes, but do not wait on a grandchild that keeps them open.
      child.once('close', verdict);
      graceTimer = setTimeout(verdict, PIPE_GRACE_MS);
    });
  });
}

/** Runs the hooks in order; throws the first failure as a HookError and runs none after it. */
export async function runHooks(kind: HookKind, hooks: Hook[] | undefined, state: State): Promise<void> {
  if (!hooks?.length) return;
  const json = hookStateJson(state);
  for (let i = 0; i < hooks.length; i++) await runHook(kind, i, hooks[i], json);
}

/**
 * For poststop: runs every hook whatever happens and returns the failures' messages for the
 * caller to log as warnings.
 */
export async function runHooksLogged(kind: HookKind, hooks: Hook[] | undefined, state: State): Promise<string[]> {
  return (await runHooksCollecting(kind, hooks, state)).map((e) => e.message);
}

/** As runHooksLogged, with the errors themselves. */
export async function runHooksCollecting(kind: HookKind, hooks: Hook[] | undefined, state: State): Promise<HookError[]> {
  const failures: HookError[] = [];
  if (!hooks?.length) return failures;
  const json = hookStateJson(state);
  for (let i = 0; i < hooks.length; i++) {
    try {
      await runHook(kind, i, hooks[i], json);
    } catch (e) {
      failures.push(e instanceof HookError ? e : new HookError(kind, i, String(hooks[i]?.path), { type: 'invalid', problem: (e as Error).message }));
    }
  }
  return failures;
}

/**
 * child_process wants an object. `K=V` entries map exactly; a later duplicate key replaces an earlier
 * one (as getenv would see it); an entry without `=` is passed as `ENTRY=` (no other way through spawn).
 */
function envObject(env: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq < 0) out[e] = '';
    else out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

function signalNumber(name: NodeJS.Signals): number {
  return osConstants.signals[name] ?? 0;
}
