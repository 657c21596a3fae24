// `tsrun start`: open the exec fifo for reading, which releases the init into execve.
import { unlinkSync } from 'node:fs';
import type { Sys } from '../sys/sys.js';
import { O, POLLHUP, POLLIN } from '../sys/constants.js';
import type { StateStore, ContainerRecord } from './store.js';
import { deriveStatus } from './status.js';
import { ContainerError, NotFoundError, WrongStateError } from './errors.js';
import { isSameProcess } from '../process/proc.js';
import { hookState } from './hook-state.js';
import { signalProcess } from './reap.js';
import { debugStep } from '../cli/log.js';

export async function startContainer(sys: Sys, store: StateStore, id: string): Promise<ContainerRecord> {
  const unlock = store.lock(sys, id);
  try {
    const rec = store.read(id);
    if (!rec) throw new WrongStateError(id, 'start', 'still being created');
    const status = deriveStatus(store, rec);
    if (status !== 'created') {
      throw new ContainerError(status === 'stopped' ? `cannot start container "${id}": it has stopped` : `cannot start container "${id}": it is ${status}, not created`);
    }
    releaseInit(sys, store, rec);
    debugStep('start: the process has started');
    rec.started = true;
    store.write(rec);
    unlinkSync(store.fifoPath(id));
    if (rec.config.hooks?.poststart?.length) {
      try {
        const { runHooks } = await import('../../hooks/run.js');
        await runHooks('poststart', rec.config.hooks.poststart, hookState(rec, 'running'));
      } catch (e) {
        // runtime-spec 1.3: a failing poststart hook is an error for `start`, and the container is stopped.
        signalProcess(sys, rec.pid, rec.pidStartTime, 9);
        throw e;
      }
    }
    return rec;
  } finally {
    unlock();
  }
}

/**
 * Read the init's byte from the fifo, then wait for the fifo's EOF: the init keeps its end open
 * until execve (close-on-exec), so the user's process has started (startContainer hooks included)
 * when this returns. Notices an init that dies instead of waiting forever.
 */
function releaseInit(sys: Sys, store: StateStore, rec: ContainerRecord): void {
  let fd: number;
  try {
    fd = sys.open(store.fifoPath(rec.id), O.RDONLY | O.NONBLOCK | O.CLOEXEC);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new NotFoundError(rec.id);
    throw e;
  }
  try {
    const buf = Buffer.alloc(1);
    let released = false;
    for (;;) {
      const [revents] = sys.poll([{ fd, events: POLLIN }], 100);
      if (revents & (POLLIN | POLLHUP)) {
        let n = -1;
        try {
          n = sys.read(fd, buf);
        } catch (e) {
          if ((e as { code?: string }).code !== 'EAGAIN') throw e;
        }
        if (n === 1) released = true;
        if (n === 0 && released) return; // execve done (or the init died after starting: its stderr says why)
        if (n === 0) throw new ContainerError(`cannot start container "${rec.id}": its init closed the exec fifo without starting`);
      }
      if (!released && !isSameProcess(rec.pid, rec.pidStartTime)) {
        throw new ContainerError(`cannot start container "${rec.id}": its init exited`);
      }
    }
  } finally {
    sys.close(fd);
  }
}

