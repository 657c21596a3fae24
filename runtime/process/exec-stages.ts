// The forked stages of `tsrun exec`: join every namespace of the running container (user first),
// fork so the process is inside the PID namespace, then the same final steps as the init, with
// execve only once the parent has put the process in the container's cgroups. Child side only:
// Sys calls, never returns.
import type { Sys } from '../sys/sys.js';
import { PR } from '../sys/constants.js';
import { SyncChannel, type ParentMessage } from './sync.js';
import type { CgroupSelfJoin, InitPlan, NamespaceJoin } from './init-plan.js';
import { becomeProcess, execProcess, InitAbort, resolveExecutable } from './init.js';
import { closeUnifiedFd, forkInto, joinsItself, joinV1Cgroups } from './cgroup-join.js';
import { applyAttributes, applyInitialAffinity } from './attributes.js';
import { loadSeccompEarly } from './seccomp-load.js';
import { setupConsole, type ConsolePlan } from './console.js';

export interface ExecPlan {
  syncFd: number;
  parentSyncFd: number;
  joins: NamespaceJoin[];
  process: InitPlan['process'];
  seccomp: InitPlan['seccomp'];
  /** process.terminal: make the pty after joining the mount namespace and send the master. */
  console?: ConsolePlan;
  /** The process joins its cgroups itself (CgroupSelfJoin); else the parent writes its pid. */
  cgroupJoin?: CgroupSelfJoin;
}

function report(sync: SyncChannel, stage: string, err: unknown): void {
  const e = err as { message?: string; call?: string; code?: string; path?: string };
  try {
    sync.send({ t: 'error', stage, message: e?.message ?? String(err), call: e?.call, code: e?.code, path: e?.path });
  } catch {
    // parent gone
  }
}

export function runExecStage1(sys: Sys, plan: ExecPlan): never {
  const sync = new SyncChannel(sys, plan.syncFd);
  let code = 1;
  try {
    sys.close(plan.parentSyncFd);
    sys.prctl(PR.SET_DUMPABLE, 0);
    for (const ns of plan.joins) sys.setns(ns.fd, ns.flag);
    for (const ns of plan.joins) sys.close(ns.fd);
    applyInitialAffinity(sys, plan.process.attributes);
    const { pid, bornInCgroup } = forkInto(sys, plan.cgroupJoin?.unifiedFd);
    if (pid === 0) runExecProcess(sys, plan, sync, joinsItself(plan.cgroupJoin, bornInCgroup));
    sync.send({ t: 'pid', pid, bornInCgroup });
    code = 0;
  } catch (err) {
    report(sync, 'namespaces', err);
  }
  sys.exit(code);
}

/**
 * Whether the process waits for the parent's 'joined' (sent once the parent has its pid and, unless
 * the process joined its cgroups itself, has put it there): also after a self-join when a seccomp
 * listener is handed over, as that hand-over must come after stage 1's 'pid' on the channel.
 */
export function waitsForJoined(selfJoin: boolean, plan: Pick<ExecPlan, 'seccomp'>): boolean {
  return !selfJoin || Boolean(plan.seccomp?.listener);
}

function runExecProcess(sys: Sys, plan: ExecPlan, sync: SyncChannel, selfJoin: boolean): never {
  let stage = 'exec';
  // Where the parent writes our pid to cgroup.procs (5-20 ms for the kernel's RCU grace period),
  // the steps below run meanwhile, and only execve waits for it.
  let joined = !waitsForJoined(selfJoin, plan);
  const awaitJoined = () => {
    if (joined) return;
    const msg = sync.receive<ParentMessage>();
    if (msg?.t !== 'joined') throw new InitAbort();
    joined = true;
  };
  try {
    closeUnifiedFd(sys, plan.cgroupJoin);
    if (selfJoin) {
      stage = 'cgroups';
      joinV1Cgroups(sys, plan.cgroupJoin!.tasks);
      stage = 'exec';
    }
    sys.setsid();
    if (plan.console) {
      stage = 'console';
      setupConsole(sys, plan.console);
      stage = 'exec';
    }
    for (const r of plan.process.rlimits) sys.prlimit(r.resource, r.soft, r.hard);
    applyAttributes(sys, plan.process.attributes);
    if (plan.seccomp?.beforeCredentials) {
      if (plan.seccomp.listener) awaitJoined(); // the listener's hand-over comes next on the channel
      loadSeccompEarly(sys, sync, plan.seccomp);
    }
    becomeProcess(sys, plan.process);
    const path = resolveExecutable(sys, plan.process.args[0], plan.process.env);
    awaitJoined();
    execProcess(sys, plan.process, path, plan.seccomp);
  } catch (err) {
    if (!(err instanceof InitAbort)) report(sync, stage, err);
  }
  sys.exit(127);
}
