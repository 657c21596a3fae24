// Waiting for a foreground process (run, exec) while forwarding the signals tsrun receives to it.
import type { Sys } from '../sys/sys.js';
import { POLLIN, SIGNALS } from '../sys/constants.js';
import { decodeWaitStatus, exitCodeOf } from './wait-status.js';

const FORWARDED = ['HUP', 'INT', 'QUIT', 'TERM', 'USR1', 'USR2', 'WINCH', 'CONT', 'ALRM'] as const;

/**
 * Wait for our child (the caller is its parent or subreaper) and return its exit code, or 128 +
 * signal. The pidfd is polled in short slices so the event loop can run signal handlers between.
 */
export async function waitForeground(sys: Sys, pid: number): Promise<number> {
  const pidfd = sys.pidfdOpen(pid);
  const handlers = FORWARDED.map((name) => [`SIG${name}`, () => sendQuietly(sys, pidfd, SIGNALS[name])] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    for (;;) {
      const [revents] = sys.poll([{ fd: pidfd, events: POLLIN }], 50);
      if (revents) return exitCodeOf(decodeWaitStatus(sys.waitpid(pid).status));
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    sys.close(pidfd);
  }
}

function sendQuietly(sys: Sys, pidfd: number, sig: number): void {
  try {
    sys.pidfdSendSignal(pidfd, sig);
  } catch {
    // already gone
  }
}
