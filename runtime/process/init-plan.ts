// The init plan: everything the forked stages need, computed in the parent before the fork so the
// child runs little JavaScript (DESIGN.md §2).
import type { Hook } from '../../spec/types.js';
import type { CredentialPlan } from './credentials.js';
import type { ProcessAttributes } from './attributes.js';
import type { RootfsPlan } from '../rootfs/index.js';
import type { ConsolePlan } from './console.js';

export interface NamespaceJoin {
  type: string;
  fd: number; // opened in the parent; joined with setns in stage 1
  flag: number;
}

export interface RlimitPlan {
  resource: number;
  soft: bigint;
  hard: bigint;
  name: string;
}

/**
 * A process that joins its container's cgroups without anyone writing its pid to cgroup.procs:
 * that write takes a global lock whose first use after a quiet spell waits an RCU grace period
 * (5-20 ms here, on every create and exec). Instead it is born in the cgroup2 directory
 * (clone3 CLONE_INTO_CGROUP) and writes "0" to each v1 hierarchy's `tasks` file (moving itself, a
 * single thread: no global lock). Not with a user namespace (clone3 checks the caller's own
 * right to write there) or a cgroup namespace (rooted where the process is when it unshares).
 */
export interface CgroupSelfJoin {
  /** The cgroup2 directory, O_RDONLY (none without a cgroup2 hierarchy). */
  unifiedFd?: number;
  /** Each v1 hierarchy's `tasks` file, O_WRONLY, opened by tsrun (the kernel checks the opener). */
  tasks: { fd: number; path: string }[];
}

export interface InitPlan {
  syncFd: number;
  /** The parent's end of the sync channel: closed first thing in the child. */
  parentSyncFd: number;
  joins: NamespaceJoin[]; // user namespace first
  newUserNamespace: boolean;
  /** CLONE_NEW* flags unshared in stage 1 (all new namespaces but user and cgroup). */
  unshareFlags: number;
  /** CLONE_NEWCGROUP, unshared by the init once it is in its cgroup. */
  newCgroupNamespace: boolean;
  timeOffsets?: string; // "monotonic S NS\nboottime S NS\n" for /proc/self/timens_offsets
  hostname?: string;
  domainname?: string;
  rootfs: RootfsPlan;
  sysctl: [path: string, value: string][];
  /** O_PATH fd of the exec fifo, reopened for writing through /proc/self/fd after pivot_root. */
  fifoFd: number;
  /** The init joins its cgroups itself (no cgroup.procs write by the parent): see CgroupSelfJoin. */
  cgroupJoin?: CgroupSelfJoin;
  /** A sealed memfd holding the program the init execs once ready (waiting-init/), if it may. */
  waitingInitFd?: number;
  /** Machine code the init installs for the signals that end a process, if it waits as Node. */
  nodeWaitSignalHandler?: Buffer;
  runtimeHooks: boolean; // prestart/createRuntime hooks exist: ask the parent to run them
  createContainerHooks: Hook[];
  startContainerHooks: Hook[];
  process: {
    args: string[];
    env: string[];
    cwd: string;
    umask?: number;
    noNewPrivileges: boolean;
    credentials: CredentialPlan;
    rlimits: RlimitPlan[];
    /** Additional fds beyond stdio kept open across exec (--preserve-fds, LISTEN_FDS). */
    preserveFds: number;
    attributes: ProcessAttributes;
  };
  /** listener: a notify filter, loaded before `ready` so its fd reaches the parent (seccomp-load.ts). */
  seccomp?: { filter: Buffer; flags: number; beforeCredentials: boolean; listener?: boolean };
  /** process.terminal: the init makes the pty after pivot_root and sends the master. */
  console?: ConsolePlan;
}
