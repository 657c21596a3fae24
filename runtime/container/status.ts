// The OCI status is derived, never trusted blindly (DESIGN.md §3).
import { existsSync } from 'node:fs';
import type { ContainerRecord, StateStore } from './store.js';
import { isSameProcess } from '../process/proc.js';
import { nodeCgroupFs } from '../cgroups/cgroup-fs.js';
import { freezerState } from '../cgroups/freezer.js';
import { modeOfPaths } from '../cgroups/layout.js';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export function deriveStatus(store: StateStore, rec: ContainerRecord | undefined): Status {
  if (!rec) return 'creating';
  if (!rec.pid || !isSameProcess(rec.pid, rec.pidStartTime)) return 'stopped';
  if (!rec.createdDone) return 'creating';
  if (isFrozen(rec)) return 'paused';
  if (!rec.started && existsSync(store.fifoPath(rec.id))) return 'created';
  return 'running';
}

/** Reads the freezer files directly: `state` and `list` need not load the whole cgroup manager. */
function isFrozen(rec: ContainerRecord): boolean {
  try {
    return freezerState(nodeCgroupFs, modeOfPaths(rec.cgroupPaths), rec.cgroupPaths) === 'frozen';
  } catch {
    return false;
  }
}

/** The runc-shaped state JSON. */
export function ociState(rec: ContainerRecord, status: Status) {
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    ...(rec.annotations && Object.keys(rec.annotations).length ? { annotations: rec.annotations } : {}),
    owner: rec.owner,
  };
}
