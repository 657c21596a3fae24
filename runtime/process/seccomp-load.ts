// Loading the seccomp filter in the forked child (init or exec), before `ready` while the parent
// still listens on the sync socket: a notify filter's listener fd is sent to the parent
// (SCM_RIGHTS on the SOCK_SEQPACKET sync socket), which hands it to the agent and answers `go`.
import type { Sys } from '../sys/sys.js';
import type { InitPlan } from './init-plan.js';
import type { SyncChannel, ParentMessage } from './sync.js';

const LISTENER_PAYLOAD = 'seccomp-listener'; // runtime/container/seccomp-link.ts checks it

export function loadSeccompEarly(sys: Sys, sync: SyncChannel, seccomp: NonNullable<InitPlan['seccomp']>): void {
  const ret = sys.seccompSetFilter(seccomp.flags, seccomp.filter);
  if (!seccomp.listener) return;
  // From here every syscall goes through the filter: only write/sendmsg/read/close, none of which
  // may be SCMP_ACT_NOTIFY for write and sendmsg (refused at create).
  sync.send({ t: 'seccomp' });
  sys.sendFd(sync.fd, ret, Buffer.from(LISTENER_PAYLOAD));
  sys.close(ret);
  const reply = sync.receive<ParentMessage>();
  if (reply?.t !== 'go') throw new Error('seccomp: the runtime could not hand the notify listener to the agent');
}
