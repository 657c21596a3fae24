// Parent side of container creation: fork stage 1 and answer the stages over the sync channel
// until the init reports ready (or fails). DESIGN.md §2 explains why this is a fork of Node.
import type { Sys } from '../sys/sys.js';
import type { InitPlan } from './init-plan.js';
import { SyncChannel, type ChildMessage, type ParentMessage } from './sync.js';
import { runStage1 } from './init.js';
import { decodeWaitStatus, describeExit } from './wait-status.js';
import { ContainerError } from '../container/errors.js';
import { writeErr } from '../cli/output.js';

export class InitError extends ContainerError {
  constructor(readonly stage: string, message: string, readonly code?: string, readonly path?: string) {
    super(message);
    this.name = 'InitError';
  }
}

export interface LaunchHooks {
  /** Stage 1 made its user namespace: write its id maps. */
  userNamespace(stage1Pid: number): void;
  /** The init exists (host pid): record it; returns the state JSON for in-container hooks. */
  initCreated(pid: number): Promise<string> | string;
  /** The init got 'start' and sets up its mounts: work done here overlaps with that. */
  initSettingUp?(pid: number, bornInCgroup: boolean): void;
  /** Namespaces exist, before pivot_root: run prestart and createRuntime hooks. */
  runtimeHooks(): Promise<void>;
  /** The init finished its setup and waits on the exec fifo (it cannot pass it before we return). */
  initReady?(pid: number): void;
  /** The init loaded a seccomp notify filter: its listener fd is the next packet on `syncFd`. */
  seccompListener?(syncFd: number, initPid: number): void;
}

export interface Launched {
  pid: number;
}

/**
 * Test hook for the fault tests (test/reliability): with TSRUN_TEST_STALL=<stage> the parent prints
 * one line to stderr and blocks forever at that point, so a test can SIGKILL `create` there.
 * Stages, in order: fork, userns (user namespace only), pid, cgroup, hooks (prestart/createRuntime
 * hooks only), ready. Unset in normal use: one environment lookup per stage.
 */
export function stallForTest(stage: string): void {
  if (process.env.TSRUN_TEST_STALL !== stage) return;
  writeErr(`tsrun: TSRUN_TEST_STALL: stalled at ${stage}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

/** Send, or, when the child already gave up (EPIPE), throw its own error message rather than EPIPE. */
export function sendToChild(channel: SyncChannel, msg: ParentMessage, gone: string): void {
  try {
    channel.send(msg);
  } catch (e) {
    let pending: ChildMessage | undefined;
    try {
      pending = channel.receive<ChildMessage>();
    } catch {
      // nothing readable either
    }
    if (pending?.t === 'error') throw new InitError(pending.stage, pending.message, pending.code, pending.path);
    throw new InitError('init', `${gone} (${(e as Error).message})`);
  }
}

function assertSingleThreadedNode(): void {
  if (!process.execArgv.includes('--single-threaded')) {
    throw new ContainerError('tsrun must run under `node --single-threaded` (use the tsrun launcher): forking a multi-threaded Node can deadlock');
  }
}

/**
 * Fork stage 1 and drive it. `onPid` is called as soon as the init's pid is known so that the
 * caller can clean it up if anything later fails.
 */
export async function launchInit(sys: Sys, plan: InitPlan, hooks: LaunchHooks, onPid: (pid: number) => void): Promise<Launched> {
  assertSingleThreadedNode();
  const stage1 = sys.fork();
  if (stage1 === 0) runStage1(sys, plan);

  sys.close(plan.syncFd);
  stallForTest('fork');
  const channel = new SyncChannel(sys, plan.parentSyncFd);
  const sync = {
    receive: <T extends ChildMessage>() => channel.receive<T>(),
    send: (msg: ParentMessage) => sendToChild(channel, msg, 'container init exited before it was ready'),
  };
  let initPid = 0;
  let stage1Reaped = false;
  const reapStage1 = () => {
    if (!stage1Reaped) {
      stage1Reaped = true;
      return decodeWaitStatus(sys.waitpid(stage1).status);
    }
    return undefined;
  };
  try {
    for (;;) {
      const msg = sync.receive<ChildMessage>();
      if (!msg) {
        const exit = reapStage1();
        throw new InitError('init', `container init exited before it was ready${exit ? ` (${describeExit(exit)})` : ''}`);
      }
      switch (msg.t) {
        case 'userns':
          stallForTest('userns');
          try {
            hooks.userNamespace(stage1);
          } catch (e) {
            sync.send({ t: 'abort', message: String(e) });
            throw e;
          }
          sync.send({ t: 'go' });
          break;
        case 'pid': {
          initPid = msg.pid;
          onPid(initPid);
          const exit = reapStage1();
          if (exit && (exit.code ?? 1) !== 0) throw new InitError('namespaces', `stage 1 failed (${describeExit(exit)})`);
          stallForTest('pid');
          const state = await hooks.initCreated(initPid);
          stallForTest('cgroup');
          sync.send({ t: 'start', state });
          hooks.initSettingUp?.(initPid, msg.bornInCgroup === true);
          break;
        }
        case 'hooks':
          stallForTest('hooks');
          try {
            await hooks.runtimeHooks();
          } catch (e) {
            sync.send({ t: 'abort', message: String(e) });
            throw e;
          }
          sync.send({ t: 'go' });
          break;
        case 'seccomp':
          try {
            if (!hooks.seccompListener) throw new InitError('seccomp', 'the init sent a seccomp listener nobody asked for');
            hooks.seccompListener(plan.parentSyncFd, initPid);
          } catch (e) {
            sync.send({ t: 'abort', message: String(e) });
            throw e;
          }
          sync.send({ t: 'go' });
          break;
        case 'ready':
          stallForTest('ready');
          hooks.initReady?.(initPid);
          return { pid: initPid };
        case 'error':
          throw new InitError(msg.stage, msg.message, msg.code, msg.path);
      }
    }
  } finally {
    reapStage1();
    sys.close(plan.parentSyncFd);
  }
}
