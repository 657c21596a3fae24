// CgroupSelfJoin (init-plan.ts) from the process side: stage 1 forks the init or exec process
// into the cgroup2 directory, and that process, single-threaded, moves itself into each v1
// hierarchy's cgroup. Neither takes the lock a cgroup.procs write takes (whose first use after a
// quiet spell waits an RCU grace period, 5-20 ms here).
import type { Sys } from '../sys/sys.js';
import { SyscallError, isErrno } from '../sys/errors.js';
import type { CgroupSelfJoin } from './init-plan.js';

/**
 * Fork the next stage, born in the cgroup2 directory `unifiedFd` when there is one (CgroupSelfJoin).
 * A kernel without clone3's CLONE_INTO_CGROUP (before 5.7) gets a plain fork, and the parent then
 * writes the pid to cgroup.procs as before.
 */
export function forkInto(sys: Sys, unifiedFd: number | undefined): { pid: number; bornInCgroup: boolean } {
  if (unifiedFd !== undefined) {
    try {
      return { pid: sys.cloneIntoCgroup(unifiedFd), bornInCgroup: true };
    } catch (e) {
      if (!isErrno(e, 'ENOSYS') && !isErrno(e, 'EINVAL') && !isErrno(e, 'E2BIG')) throw e;
    }
  }
  return { pid: sys.fork(), bornInCgroup: false };
}

/** CgroupSelfJoin: move this (single-threaded) process into each v1 hierarchy's cgroup. */
export function joinV1Cgroups(sys: Sys, tasks: CgroupSelfJoin['tasks']): void {
  for (const { fd, path } of tasks) {
    try {
      sys.write(fd, '0');
    } catch (e) {
      throw e instanceof SyscallError ? new SyscallError('write', e.errno, path) : e;
    }
    sys.close(fd);
  }
}

/** Whether a process forked with `join` joins its cgroups itself: born in the cgroup2 one, or there is none. */
export function joinsItself(join: CgroupSelfJoin | undefined, bornInCgroup: boolean): boolean {
  return join !== undefined && (bornInCgroup || join.unifiedFd === undefined);
}

/** In the forked process: the cgroup2 directory fd was for clone3 only; no host directory fd stays open. */
export function closeUnifiedFd(sys: Sys, join: CgroupSelfJoin | undefined): void {
  if (join?.unifiedFd !== undefined) sys.close(join.unifiedFd);
}
