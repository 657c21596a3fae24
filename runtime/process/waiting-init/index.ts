// The waiting init (program.ts): when a container's init may become it, and how it gets there.
// The parent puts the program in a sealed memfd before the fork; the init, once ready, execs it
// (execveat, AT_EMPTY_PATH), so that the Node it was forked from is gone while it waits for
// `start`. Where it may not, the init waits as Node, as before: same behaviour, more memory.
import type { Sys } from '../../sys/sys.js';
import { isErrno } from '../../sys/errors.js';
import { AT, F, F_ADD_SEALS, F_SEAL, MFD, SIGNALS } from '../../sys/constants.js';
import type { InitPlan } from '../init-plan.js';
import type { IDMapping, Spec } from '../../../spec/types.js';
import { AUDIT_ARCH, SECCOMP_RET, SECCOMP_RET_ACTION_FULL } from '../../seccomp/constants.js';
import { syscallTable } from '../../seccomp/arch.js';
import { runFilter } from '../../seccomp/vm.js';
import { ENDING_SIGNALS, WAITING_INIT_NAME, endingSignalHandlerX86_64, waitingInitEnvironment, waitingInitX86_64, type ProgramSyscall, type WaitingInitProgram } from './program.js';

/** The init's own call into the program (its fd is not known yet); the program's follow from there. */
const EXECVEAT: ProgramSyscall = { name: 'execveat', args: [0n, 0n, 0n, 0n, BigInt(AT.EMPTY_PATH)] };

export interface WaitingInitContext {
  /**
   * The container's user namespace maps both tsrun's uid and gid, or is joined by path (unknown):
   * the kernel then counts the program as the container root's own, and lets a container process
   * with CAP_SYS_PTRACE trace it although it is not dumpable (a fork of Node keeps the host's).
   */
  userNamespaceOwnsProgram: boolean;
  arch?: NodeJS.Architecture;
}

/**
 * The program for this plan, or why its init must wait as Node: startContainer hooks run from the
 * init after `start` (hooks/sync.ts is JavaScript); a filter loaded before `ready` (without
 * no_new_privs) applies to the program's own calls, so it must allow each call the program makes
 * (checked on the compiled filter); the program exists for x86-64 only.
 */
export function planWaitingInit(plan: InitPlan, ctx: WaitingInitContext): { program: WaitingInitProgram } | { waitAsNode: string } {
  const arch = ctx.arch ?? process.arch;
  if (arch !== 'x64') return { waitAsNode: `no waiting init for ${arch}` };
  if (plan.startContainerHooks.length) return { waitAsNode: 'startContainer hooks run from the init' };
  if (ctx.userNamespaceOwnsProgram) return { waitAsNode: "the user namespace maps tsrun's own uid and gid" };
  const lateSeccomp = plan.seccomp && !plan.seccomp.beforeCredentials ? plan.seccomp : undefined;
  const program = waitingInitX86_64({ fifoFd: plan.fifoFd, argCount: plan.process.args.length, seccomp: lateSeccomp });
  if (plan.seccomp?.beforeCredentials) {
    const table = syscallTable('x86_64');
    for (const { name, args } of [EXECVEAT, ...program.syscalls]) {
      const action = (runFilter(plan.seccomp.filter, { nr: table.get(name)!, arch: AUDIT_ARCH.X86_64, args }).ret & SECCOMP_RET_ACTION_FULL) >>> 0;
      if (action !== SECCOMP_RET.ALLOW && action !== SECCOMP_RET.LOG) return { waitAsNode: `the seccomp profile does not allow ${name}` };
    }
  }
  return { program };
}

/** WaitingInitContext.userNamespaceOwnsProgram for a config run by `ids` (tsrun's euid and egid). */
export function userNamespaceOwnsProgram(spec: Spec, ids: { uid: number; gid: number }): boolean {
  const userns = spec.linux?.namespaces?.find((n) => n.type === 'user');
  if (!userns) return false;
  if (userns.path) return true;
  const maps = (ranges: IDMapping[] | undefined, id: number) => (ranges ?? []).some((r) => id >= r.hostID && id - r.hostID < r.size);
  return maps(spec.linux?.uidMappings, ids.uid) && maps(spec.linux?.gidMappings, ids.gid);
}

/** The program for this plan in a sealed, close-on-exec memfd, or why the init waits as Node. */
export function prepareWaitingInit(sys: Sys, plan: InitPlan, ctx: WaitingInitContext): { fd: number } | { waitAsNode: string } {
  const planned = planWaitingInit(plan, ctx);
  if (!('program' in planned)) return planned;
  const program = planned.program.elf;
  let fd: number;
  try {
    fd = executableMemfd(sys);
  } catch (e) {
    return { waitAsNode: `${(e as Error).message} (vm.memfd_noexec?)` };
  }
  try {
    for (let done = 0; done < program.length; ) done += sys.write(fd, program.subarray(done));
    // Execute-only: a program its user may not read stays non-dumpable and keeps its mm in the
    // host's user namespace (the kernel's would_dump), out of reach of the container's root.
    sys.fchmod(fd, 0o111);
    // As runc's memfd copy of itself (CVE-2019-5736): nobody may change what /proc/PID/exe is.
    sys.fcntl(fd, F_ADD_SEALS, F_SEAL.SEAL | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.WRITE);
    return { fd };
  } catch (e) {
    sys.close(fd);
    return { waitAsNode: (e as Error).message };
  }
}

/**
 * A memfd that may be executed: kernels since 6.3 make memfds non-executable for good where the
 * pid namespace's vm.memfd_noexec says so, unless MFD_EXEC asks otherwise (and with 2 refuse
 * that); older kernels do not know MFD_EXEC (EINVAL) and make every memfd executable.
 */
function executableMemfd(sys: Sys): number {
  const flags = MFD.CLOEXEC | MFD.ALLOW_SEALING;
  try {
    return sys.memfdCreate(WAITING_INIT_NAME, flags | MFD.EXEC);
  } catch (e) {
    if (!isErrno(e, 'EINVAL')) throw e;
    return sys.memfdCreate(WAITING_INIT_NAME, flags);
  }
}

/**
 * In the init, ready, with every fd but stdio and preserved ones close-on-exec and signals reset:
 * exec the program. Returns only if the kernel refused, and then the init waits as Node.
 */
export function becomeWaitingInit(sys: Sys, programFd: number, fifoFd: number, path: string, proc: InitPlan['process']): void {
  try {
    sys.fcntl(fifoFd, F.SETFD, 0); // the program reopens it through /proc/self/fd, then closes it
    sys.execveat(programFd, '', [WAITING_INIT_NAME], waitingInitEnvironment(path, proc), AT.EMPTY_PATH);
  } catch {
    // e.g. a seccomp filter that looks at execveat's pointers, which whyWaitAsNode cannot see
  }
}

/**
 * For an init that waits as Node: the program's signal handler (emitEndingSignalHandler), so that
 * a created container ends on `kill TERM` there too; none but for x86-64 (the init then ignores
 * such a signal as PID 1 of its namespace, as before).
 */
export function nodeWaitSignalHandler(arch: NodeJS.Architecture = process.arch): Buffer | undefined {
  return arch === 'x64' ? endingSignalHandlerX86_64() : undefined;
}

/** Node ignores these, and the init must go on ignoring them: its startContainer hooks write to pipes. */
const IGNORED_BY_NODE = new Set([SIGNALS.PIPE, SIGNALS.XFSZ]);

/**
 * In an init about to wait as Node: the handler (nodeWaitSignalHandler) for the signals that end a
 * process. Best effort: where it cannot be mapped (a seccomp filter against executable memory),
 * the init waits without it, ignoring those signals as it did before.
 */
export function endOnSignals(sys: Sys, handler: Buffer): void {
  let address: number;
  try {
    address = sys.mapCode(handler);
  } catch {
    return;
  }
  for (const sig of ENDING_SIGNALS) if (!IGNORED_BY_NODE.has(sig)) sys.setSignalHandler(sig, address);
}
