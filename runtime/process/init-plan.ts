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
