// Stopping processes that belong to a container and waiting until they are gone.
import type { Sys } from '../sys/sys.js';
import { POLLIN, WNOHANG } from '../sys/constants.js';
import { isSameProcess } from '../process/proc.js';

/** Signal a process through a pidfd, after checking it is still the one that started at `startTime`. */
export function signalProcess(sys: Sys, pid: number, startTime: string, sig: number): boolean {
  if (!(pid > 1)) return false;
  let pidfd: number;
  try {
    pidfd = sys.pidfdOpen(pid);
  } catch {
    return false; // gone
  }
  try {
    // The pidfd pins the process: if the start time still matches now, the signal cannot reach a stranger.
    if (startTime && !isSameProcess(pid, startTime)) return false;
    sys.pidfdSendSignal(pidfd, sig);
    return true;
  } catch {
    return false;
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
    try {
      sys.waitpid(pid, WNOHANG);
    } catch {
      // not our child: its parent reaps it
    }
    return revents !== 0;
  } finally {
    sys.close(pidfd);
  }
}

/** SIGKILL and wait (used to undo a failed create). */
export function killAndReap(sys: Sys, pid: number): void {
  if (!(pid > 1)) return; // never kill(0) or kill(-1)
  try {
    sys.kill(pid, 9);
  } catch {
    return;
  }
  waitForExit(sys, pid, 5000);
}
