// How containers use the seccomp compiler (runtime/seccomp): compile the config's profile in the
// parent, and, for SCMP_ACT_NOTIFY profiles, receive the listener fd the child loaded and hand it to
// the agent at linux.seccomp.listenerPath with the container's state (as runc does).
import type { Sys } from '../sys/sys.js';
import type { Spec, State } from '../../spec/types.js';
import { compileCached, compileSeccomp, sendSeccompListener } from '../seccomp/index.js';
import { ContainerError } from './errors.js';

export interface LinkedSeccomp {
  filter: Buffer;
  flags: number;
  /** The filter has SCMP_ACT_NOTIFY rules: the child sends its listener fd over the sync socket. */
  listener: boolean;
}

/**
 * Syscalls the child makes between loading a notify filter and handing its listener over: a
 * notify rule on them would block the child on a listener nobody reads. `write` is refused by the
 * compiler itself; tsrun also needs `sendmsg` (the fd travels as SCM_RIGHTS).
 */
const NOTIFY_FORBIDDEN = ['sendmsg'];

/** The config's seccomp profile compiled to a classic BPF program, or undefined for none. */
export function compileSeccompFor(spec: Spec): LinkedSeccomp | undefined {
  const profile = spec.linux?.seccomp;
  if (!profile) return undefined;
  const compiled = compileCached(profile, process.arch, () => compileSeccomp(profile));
  if (compiled.needsListener) {
    (profile.syscalls ?? []).forEach((rule, i) => {
      const bad = rule.action === 'SCMP_ACT_NOTIFY' ? rule.names.find((n) => NOTIFY_FORBIDDEN.includes(n)) : undefined;
      if (bad) {
        throw new ContainerError(`linux.seccomp.syscalls[${i}].action: SCMP_ACT_NOTIFY cannot be used for the ${bad} syscall (tsrun hands the listener to the agent with it)`);
      }
    });
  }
  return { filter: compiled.filter, flags: compiled.flags, listener: compiled.needsListener };
}

/** The marker payload the child sends with the listener fd. */
export const LISTENER_PAYLOAD = 'seccomp-listener';

/**
 * Parent side, after the child announced `{t: 'seccomp'}` on the sync socket: receive the listener
 * fd (the next packet), connect to the agent and send it with the ContainerProcessState.
 * `pid` is the process the filter belongs to (the init, or the exec'd process).
 */
export function forwardSeccompListener(sys: Sys, syncFd: number, spec: Spec, state: State, pid: number): void {
  const seccomp = spec.linux?.seccomp;
  const { fd, payload } = sys.recvFd(syncFd, 64);
  try {
    if (payload.toString() !== LISTENER_PAYLOAD) throw new ContainerError('linux.seccomp: the container process sent an unexpected message instead of its listener fd');
    if (!seccomp?.listenerPath) throw new ContainerError('linux.seccomp.listenerPath: required for SCMP_ACT_NOTIFY');
    try {
      sendSeccompListener(sys, seccomp.listenerPath, fd, state, seccomp.listenerMetadata || undefined, pid);
    } catch (e) {
      throw new ContainerError(`linux.seccomp.listenerPath ${seccomp.listenerPath}: cannot hand the listener to the agent: ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  } finally {
    sys.close(fd);
  }
}
