// The two forked stages of container creation. Runs in a single-threaded fork of Node: only Sys
// calls, no event loop, never returns (execve or _exit). Any failure is sent to the parent as one
// message {stage, call, code, path} and the stage exits.
import type { Sys } from '../sys/sys.js';
import { SyscallError } from '../sys/errors.js';
import { CLONE, CLOSE_RANGE_CLOEXEC, F, O, PR } from '../sys/constants.js';
import { SyncChannel, type ParentMessage } from './sync.js';
import type { InitPlan } from './init-plan.js';
import { closeUnifiedFd, forkInto, joinsItself, joinV1Cgroups } from './cgroup-join.js';
import { applyCredentials } from './credentials.js';
import { applyAttributes } from './attributes.js';
import { loadSeccompEarly } from './seccomp-load.js';
import { enterCwd } from './cwd.js';
import { applyRootfs, finishRootfs } from '../rootfs/index.js';
import { procFd } from '../rootfs/resolve.js';
import { runHookSync } from '../../hooks/sync.js';
import { setupConsole } from './console.js';
import { becomeWaitingInit, endOnSignals } from './waiting-init/index.js';

/** The parent gave up, or a failure was already reported to it: the stage exits quietly. */
export class InitAbort extends Error {}

/** Tell the parent; false when nobody listens any more (after `create` returned). */
function tellParent(sync: SyncChannel, stage: string, err: unknown): boolean {
  const e = err as Partial<SyscallError> & Error;
  try {
    sync.send({ t: 'error', stage, message: e?.message ?? String(err), call: e?.call, code: e?.code, path: e?.path });
    return true;
  } catch {
    return false;
  }
}

function fail(sync: SyncChannel, stage: string, err: unknown): never {
  tellParent(sync, stage, err);
  throw new InitAbort();
}

function expect(sync: SyncChannel, t: ParentMessage['t']): ParentMessage {
  const msg = sync.receive<ParentMessage>();
  if (!msg) throw new InitAbort(); // the parent died: give up quietly
  if (msg.t === 'abort') throw new InitAbort();
  if (msg.t !== t) throw new Error(`sync: expected ${t}, got ${msg.t}`);
  return msg;
}

/** Stage 1: namespaces (user first), then fork the init so it is PID 1 of a new PID namespace. */
export function runStage1(sys: Sys, plan: InitPlan): never {
  const sync = new SyncChannel(sys, plan.syncFd);
  let code = 1;
  try {
    try {
      sys.close(plan.parentSyncFd);
      sys.prctl(PR.SET_DUMPABLE, 0);
      for (const ns of plan.joins) sys.setns(ns.fd, ns.flag);
      for (const ns of plan.joins) sys.close(ns.fd);
      if (plan.newUserNamespace) {
        sys.unshare(CLONE.NEWUSER);
        // Dumpable while the parent writes our id maps: an unprivileged parent (rootless) cannot
        // open /proc/PID files of a non-dumpable process (runc does the same).
        sys.prctl(PR.SET_DUMPABLE, 1);
        sync.send({ t: 'userns' });
        expect(sync, 'go');
        sys.prctl(PR.SET_DUMPABLE, 0);
        sys.setresgid(0, 0, 0);
        sys.setresuid(0, 0, 0);
      }
      if (plan.unshareFlags) sys.unshare(plan.unshareFlags);
      if (plan.timeOffsets) writeFile(sys, '/proc/self/timens_offsets', plan.timeOffsets);
      const { pid, bornInCgroup } = forkInto(sys, plan.cgroupJoin?.unifiedFd);
      if (pid === 0) runInit(sys, plan, sync, joinsItself(plan.cgroupJoin, bornInCgroup));
      sync.send({ t: 'pid', pid, bornInCgroup });
      code = 0;
    } catch (err) {
      if (!(err instanceof InitAbort)) fail(sync, 'namespaces', err);
    }
  } catch {
    // InitAbort: already reported
  }
  sys.exit(code);
}

/**
 * Stage 2, the init: rootfs, identity, wait for `start`, then execve the user's process. Once
 * ready it becomes the waiting-init program where the plan has one, which does the rest.
 */
function runInit(sys: Sys, plan: InitPlan, sync: SyncChannel, selfJoin: boolean): never {
  let stage = 'init';
  try {
    try {
      closeUnifiedFd(sys, plan.cgroupJoin); // it was born there: no host directory fd stays open in it
      const start = expect(sync, 'start') as Extract<ParentMessage, { t: 'start' }>;
      const state = Buffer.from(start.state);
      if (plan.newCgroupNamespace) sys.unshare(CLONE.NEWCGROUP);
      sys.setsid();

      stage = 'rootfs';
      applyRootfs(sys, plan.rootfs, {
        beforePivot: () => {
          if (plan.runtimeHooks) {
            sync.send({ t: 'hooks' });
            expect(sync, 'go');
          }
          stage = 'createContainer hooks';
          plan.createContainerHooks.forEach((h, i) => runHookSync(sys, h, state, 'createContainer', i));
          stage = 'rootfs';
        },
      });
      if (plan.console) {
        stage = 'console';
        setupConsole(sys, plan.console);
      }
      stage = 'hostname';
      if (plan.hostname !== undefined) sys.sethostname(plan.hostname);
      if (plan.domainname !== undefined) sys.setdomainname(plan.domainname);
      stage = 'sysctl';
      for (const [path, value] of plan.sysctl) writeFile(sys, path, value);
      stage = 'rootfs';
      finishRootfs(sys, plan.rootfs);

      stage = 'process';
      const proc = plan.process;
      for (const r of proc.rlimits) {
        try {
          sys.prlimit(r.resource, r.soft, r.hard);
        } catch (e) {
          throw new Error(`rlimit ${r.name} ${r.soft}:${r.hard}: ${(e as Error).message.replace(/^.*: /, '')}${(e as SyscallError).code === 'EPERM' ? ' (above the hard limit tsrun was started with)' : ''}`);
        }
      }
      applyAttributes(sys, proc.attributes);
      // Without no_new_privs the filter must be loaded while the init still has CAP_SYS_ADMIN; a
      // notify filter is loaded here too, so its listener reaches the parent before `ready`.
      if (plan.seccomp?.beforeCredentials) loadSeccompEarly(sys, sync, plan.seccomp);
      // As runc: become the process before `ready`, so a bad user, cwd or program fails `create`.
      becomeProcess(sys, proc);
      const path = resolveExecutable(sys, proc.args[0], proc.env);

      if (selfJoin) {
        stage = 'cgroups';
        joinV1Cgroups(sys, plan.cgroupJoin!.tasks); // as late as this: the setup is charged to nobody
      }
      sync.send({ t: 'ready' });
      if (plan.waitingInitFd !== undefined) {
        prepareExec(sys, proc.preserveFds);
        becomeWaitingInit(sys, plan.waitingInitFd, plan.fifoFd, path, proc); // returns only if refused
      }
      stage = 'start';
      if (plan.nodeWaitSignalHandler) endOnSignals(sys, plan.nodeWaitSignalHandler);
      // The write end stays open, close-on-exec and above the fds the process keeps: `start` reads
      // EOF when execve succeeds (or the init dies), and only then runs the poststart hooks.
      const opened = sys.open(procFd(plan.fifoFd), O.WRONLY | O.CLOEXEC);
      const fifo = sys.fcntl(opened, F.DUPFD_CLOEXEC, 3 + proc.preserveFds);
      sys.close(opened);
      sys.write(fifo, '0');
      sys.close(plan.fifoFd);

      stage = 'startContainer hooks';
      plan.startContainerHooks.forEach((h, i) => runHookSync(sys, h, state, 'startContainer', i));

      stage = 'process';
      execProcess(sys, proc, path, plan.seccomp);
    } catch (err) {
      if (!(err instanceof InitAbort)) {
        reportLate(sys, sync, stage, err);
      }
    }
  } catch {
    // reported
  }
  sys.exit(127);
}

/** Shared by the init and `exec`: identity and capabilities, cwd, no_new_privs, umask. */
export function becomeProcess(sys: Sys, proc: InitPlan['process']): void {
  // As runc: the cwd is entered while still root when it can be, so a user may start in a
  // directory it could not enter itself; only a permission error is retried as the user.
  const entered = enterCwd(sys, proc.cwd, { permissionErrorsLater: true });
  applyCredentials(sys, proc.credentials);
  if (!entered) enterCwd(sys, proc.cwd);
  if (proc.noNewPrivileges) sys.prctl(PR.SET_NO_NEW_PRIVS, 1);
  if (proc.umask !== undefined) sys.umask(proc.umask);
}

/** The last steps, after becomeProcess: seccomp (late when no_new_privs allows it), fds, execve. */
export function execProcess(sys: Sys, proc: InitPlan['process'], path: string, seccomp: InitPlan['seccomp']): never {
  if (seccomp && !seccomp.beforeCredentials) sys.seccompSetFilter(seccomp.flags, seccomp.filter);
  prepareExec(sys, proc.preserveFds);
  return sys.execve(path, proc.args, proc.env);
}

/** Before `start` the parent hears about errors; after it, only the container's stderr can. */
function reportLate(sys: Sys, sync: SyncChannel, stage: string, err: unknown): void {
  if (tellParent(sync, stage, err)) return;
  try {
    sys.write(2, `tsrun init: ${stage}: ${(err as Error)?.message ?? err}\n`);
  } catch {
    // nothing more to do
  }
}

function writeFile(sys: Sys, path: string, data: string): void {
  const fd = sys.open(path, O.WRONLY | O.CLOEXEC);
  try {
    sys.write(fd, data);
  } finally {
    sys.close(fd);
  }
}

/** As runc: find the program before reporting ready, so a missing one fails `create`. */
export function resolveExecutable(sys: Sys, file: string, env: string[]): string {
  if (file.includes('/')) {
    if (!sys.access(file, 1 /* X_OK */)) throw new Error(`exec: "${file}": no such file or not executable`);
    return file;
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of pathVar.split(':')) {
    const candidate = `${dir || '.'}/${file}`;
    if (sys.access(candidate, 1)) {
      try {
        if ((sys.stat(candidate).mode & 0o170000) === 0o100000) return candidate;
      } catch {
        // keep looking
      }
    }
  }
  throw new Error(`exec: "${file}": executable file not found in $PATH`);
}

/** Signals back to default, stdio inheritable, every other fd closed on exec (CVE-2024-21626). */
function prepareExec(sys: Sys, preserveFds: number): void {
  sys.resetSignals();
  for (let fd = 0; fd < 3 + preserveFds; fd++) {
    try {
      sys.fcntl(fd, F.SETFD, 0);
    } catch {
      // fd not open: fine
    }
  }
  sys.closeRange(3 + preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
}
