// `tsrun delete [--force] ID`: stop what is left, release cgroups and rootfs, run poststop hooks,
// remove the state. A stopped or created container needs no --force (as runc).
import type { Sys } from '../sys/sys.js';
import type { StateStore, ContainerRecord } from './store.js';
import { deriveStatus } from './status.js';
import { ContainerError, NotFoundError, WrongStateError } from './errors.js';
import { signalProcess, waitForExit } from './reap.js';
import { cgroupsOf } from './cgroup-link.js';
import { releaseRootfs } from '../../bundles/rootfs.js';
import { hookState } from './hook-state.js';
import { warn } from '../cli/log.js';

export async function deleteContainer(sys: Sys, store: StateStore, id: string, force: boolean): Promise<void> {
  if (!store.exists(id)) {
    if (force) return; // as runc: deleting what is not there is not an error with --force
    throw new NotFoundError(id);
  }
  const unlock = store.lock(sys, id);
  try {
    let rec: ContainerRecord | undefined;
    try {
      rec = store.read(id);
    } catch (e) {
      if (e instanceof NotFoundError) return;
      if (!force) throw e;
      warn(`${(e as Error).message}; removing it`);
      store.remove(id);
      return;
    }
    const status = deriveStatus(store, rec);
    if (!rec) {
      if (!force) throw new WrongStateError(id, 'delete', 'still being created (use --force)');
      store.remove(id);
      return;
    }
    if ((status === 'running' || status === 'paused' || status === 'creating') && !force) {
      throw new ContainerError(`cannot delete container "${id}" that is not stopped: ${status} (use --force)`);
    }
    if (status !== 'stopped') stopAll(sys, rec);
    await destroy(sys, store, rec);
  } finally {
    unlock();
  }
}

function stopAll(sys: Sys, rec: ContainerRecord): void {
  const cgroups = cgroupsOf(rec);
  try {
    cgroups.killAll(9);
  } catch (e) {
    warn(`container "${rec.id}": kill through cgroup: ${(e as Error).message}`);
  }
  signalProcess(sys, rec.pid, rec.pidStartTime, 9);
  if (!waitForExit(sys, rec.pid, 10_000)) {
    throw new ContainerError(`container "${rec.id}": init (pid ${rec.pid}) did not exit after SIGKILL`);
  }
}

async function destroy(sys: Sys, store: StateStore, rec: ContainerRecord): Promise<void> {
  const problems: string[] = [];
  try {
    cgroupsOf(rec).destroy();
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (rec.overlay) {
    try {
      await releaseRootfs(rec.id, store.dir(rec.id));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (rec.config.hooks?.poststop?.length) {
    const { runHooksLogged } = await import('../../hooks/run.js');
    for (const failure of await runHooksLogged('poststop', rec.config.hooks.poststop, hookState(rec, 'stopped'))) warn(failure);
  }
  store.remove(rec.id);
  void sys;
  if (problems.length) throw new ContainerError(`delete "${rec.id}": ${problems.join('; ')}`);
}
