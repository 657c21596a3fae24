// Stopping processes that belong to a container and waiting until they are gone. Every signal goes
// through a pidfd opened before the start-time check, so a pid the kernel has given to another
// process since (pid reuse) is never signalled.
import type { Sys } from '../sys/sys.js';
import { POLLIN, WNOHANG } from '../sys/constants.js';
import { isSameProcess } from '../process/proc.js';

/** Open a pidfd on `pid` only if it is still the process that started at `startTime`. */
function openSameProcess(sys: Sys, pid: number, startTime: string): number | undefined {
  if (!(pid > 1) || !startTime) return undefined; // never kill(0), kill(-1), PID 1, or an unverifiable pid
  let pidfd: number;
  try {
    pidfd = sys.pidfdOpen(pid);
  } catch {
    return undefined; // gone
  }
  // The pidfd pins the process: if the start time still matches now, the fd is the right process.
  if (isSameProcess(pid, startTime)) return pidfd;
  sys.close(pidfd);
  return undefined;
}

/** Signal a process through a pidfd, after checking it is still the one that started at `startTime`. */
export function signalProcess(sys: Sys, pid: number, startTime: string, sig: number): boolean {
  const pidfd = openSameProcess(sys, pid, startTime);
  if (pidfd === undefined) return false;
  try {
    sys.pidfdSendSignal(pidfd, sig);
    return true;
  } catch {
    return false;
  } finally {
    sys.close(pidfd);
  }
}

/**
 * Signal the process (if it is still the one that started at `startTime`) and wait on the same pidfd
 * until it has exited, at most `timeoutMs`. True when it is gone.
 */
export function stopProcess(sys: Sys, pid: number, startTime: string, sig: number, timeoutMs: number): boolean {
  const pidfd = openSameProcess(sys, pid, startTime);
  if (pidfd === undefined) return true;
  try {
    try {
      sys.pidfdSendSignal(pidfd, sig);
    } catch {
      // already exiting
    }
    const [revents] = sys.poll([{ fd: pidfd, events: POLLIN }], timeoutMs);
    reapIfChild(sys, pid);
    return revents !== 0;
  } finally {
    sys.close(pidfd);
  }
}

/** Wait until `pid` has exited (reaping it if it is our child), at most `timeoutMs`. */
export function waitForExit(sys: Sys, pid: number, timeoutMs: number): boolean {
  let pidfd: number;
  try {
    pidfd = sys.pidfdOpen(pid);
  } catch {
    return true;
  }
  try {
    const [revents] = sys.poll([{ fd: pidfd, events: POLLIN }], timeoutMs);
    reapIfChild(sys, pid);
    return revents !== 0;
  } finally {
    sys.close(pidfd);
  }
}

function reapIfChild(sys: Sys, pid: number): void {
  try {
    sys.waitpid(pid, WNOHANG);
  } catch {
    // not our child: its parent reaps it
  }
}

/**
 * SIGKILL and wait (used to undo a failed create or exec). With `startTime` (read when the pid was
 * learnt) the kill cannot reach another process that got the pid after this one was reaped elsewhere.
 */
export function killAndReap(sys: Sys, pid: number, startTime?: string): void {
  if (!(pid > 1)) return; // never kill(0) or kill(-1)
  if (startTime !== undefined) {
    stopProcess(sys, pid, startTime, 9, 5000);
    return;
  }
  try {
    sys.kill(pid, 9);
  } catch {
    return;
  }
  waitForExit(sys, pid, 5000);
}
