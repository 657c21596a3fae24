// Loading a compiled filter in the init (right before execve, after no_new_privs), and handing the
// notify listener fd to the seccomp agent named by linux.seccomp.listenerPath.
import type { Sys } from '../sys/sys.js';
import type { ContainerProcessState, State } from '../../spec/types.js';
import type { CompiledSeccomp } from './compile.js';

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). Returns the notify listener fd when the filter
 * has SCMP_ACT_NOTIFY rules, else -1. Throws SyscallError (EACCES without no_new_privs or
 * CAP_SYS_ADMIN, EINVAL for a flag the kernel lacks). Synchronous, no allocation beyond Sys: safe
 * in the forked init.
 */
export function installSeccomp(sys: Sys, compiled: CompiledSeccomp): number {
  const ret = sys.seccompSetFilter(compiled.flags, compiled.filter);
  return compiled.needsListener ? ret : -1;
}

/** The runtime-spec ContainerProcessState sent to a seccomp agent (fds[0] is the listener). */
export function containerProcessState(state: State, pid: number, metadata?: string): ContainerProcessState {
  const out: ContainerProcessState = { ociVersion: state.ociVersion, fds: ['seccompFd'], pid, state };
  if (metadata) out.metadata = metadata;
  return out;
}

/**
 * Connects to the agent's unix socket and sends the listener fd (SCM_RIGHTS) with the
 * ContainerProcessState JSON as the message, as runc does. The caller keeps (and closes) listenerFd.
 */
export function sendSeccompListener(
  sys: Sys, listenerPath: string, listenerFd: number, state: State, metadata?: string, pid = state.pid ?? 0,
): void {
  const sock = sys.connectUnix(listenerPath);
  try {
    sendSeccompState(sys, sock, listenerFd, containerProcessState(state, pid, metadata));
  } finally {
    sys.close(sock);
  }
}

/** The message itself, over an already connected socket (split out so tests can use a socketpair). */
export function sendSeccompState(sys: Sys, sock: number, listenerFd: number, processState: ContainerProcessState): void {
  sys.sendFd(sock, listenerFd, Buffer.from(JSON.stringify(processState)));
}
