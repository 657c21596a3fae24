// `tsrun delete [--force] ID`: stop what is left, release cgroups and rootfs, run poststop hooks,
// remove the state. A stopped or created container needs no --force (as runc).
import type { Sys } from '../sys/sys.js';
import { CorruptStateError, type StateStore, type ContainerRecord } from './store.js';
import { deriveStatus } from './status.js';
import { ContainerError, NotFoundError, WrongStateError } from './errors.js';
import { stopProcess } from './reap.js';
import { forceCleanup } from './salvage.js';
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
      if (!force || !(e instanceof CorruptStateError)) throw e;
      warn(`${e.message.replace(/ \(tsrun delete.*$/, '')}; cleaning up what can be found`);
      for (const note of await forceCleanup(sys, store, id)) warn(`container "${id}": ${note}`);
      return;
    }
    if (!rec) {
      // No state.json: `create` is still running, or died before writing it.
      if (!force) throw new WrongStateError(id, 'delete', 'still being created (use --force)');
      for (const note of await forceCleanup(sys, store, id)) warn(`container "${id}": ${note}`);
      return;
    }
    const status = deriveStatus(store, rec);
    if ((status === 'running' || status === 'paused' || status === 'creating') && !force) {
      throw new ContainerError(`cannot delete container "${id}" that is not stopped: ${status} (use --force)`);
    }
    // Also when stopped: the init may be gone while other processes of the container live on.
    stopAll(sys, rec, status !== 'stopped');
    await destroy(sys, store, rec);
  } finally {
    unlock();
  }
}

function stopAll(sys: Sys, rec: ContainerRecord, initAlive: boolean): void {
  const cgroups = cgroupsOf(rec);
  try {
    if (initAlive || hasProcesses(cgroups)) cgroups.killAll(9);
  } catch (e) {
    warn(`container "${rec.id}": kill through cgroup: ${(e as Error).message}`);
  }
  if (initAlive && !stopProcess(sys, rec.pid, rec.pidStartTime, 9, 10_000)) {
    throw new ContainerError(`container "${rec.id}": init (pid ${rec.pid}) did not exit after SIGKILL`);
  }
}

function hasProcesses(cgroups: ReturnType<typeof cgroupsOf>): boolean {
  try {
    return cgroups.pids().length > 0;
  } catch {
    return false; // cgroup gone
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
