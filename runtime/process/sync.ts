// The sync channel between `tsrun create` and the init it forks: a SOCK_SEQPACKET socketpair,
// one JSON message per packet. Both ends use only Sys calls (the child end runs in a forked Node).
import type { Sys } from '../sys/sys.js';

export const AF_UNIX = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = 0o2000000;

/** Messages from the init stages to the parent. */
export type ChildMessage =
  | { t: 'userns' } // stage 1 made its user namespace: write the id maps
  | { t: 'pid'; pid: number; bornInCgroup?: boolean } // stage 1 forked the init: its host pid; born in its cgroup2 directory
  | { t: 'hooks' } // namespaces exist, before pivot_root: run prestart + createRuntime
  | { t: 'ready' } // init waits on the exec fifo
  | { t: 'seccomp' } // the next packet carries the seccomp notify listener fd (SCM_RIGHTS); answer go
  | { t: 'error'; stage: string; message: string; call?: string; code?: string; path?: string };

/** Messages from the parent to the init stages. */
export type ParentMessage =
  | { t: 'go' }
  | { t: 'joined' } // exec: the process is in the container's cgroups
  | { t: 'start'; state: string } // init: set up now (state JSON for in-container hooks)
  | { t: 'abort'; message: string };

const MAX_MESSAGE = 256 * 1024;

export class SyncChannel {
  private buf?: Buffer;
  constructor(private readonly sys: Sys, readonly fd: number) {}

  send(msg: ChildMessage | ParentMessage): void {
    this.sys.write(this.fd, Buffer.from(JSON.stringify(msg)));
  }

  /** Blocks for the next message; undefined when the other end is gone. */
  receive<T extends ChildMessage | ParentMessage>(): T | undefined {
    this.buf ??= Buffer.alloc(MAX_MESSAGE);
    const n = this.sys.read(this.fd, this.buf);
    if (n === 0) return undefined;
    return JSON.parse(this.buf.subarray(0, n).toString()) as T;
  }
}
