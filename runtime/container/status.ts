// The OCI status is derived, never trusted blindly (DESIGN.md §3).
import { existsSync } from 'node:fs';
import type { ContainerRecord, StateStore } from './store.js';
import { isSameProcess } from '../process/proc.js';
import { isFrozen } from './cgroup-link.js';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export function deriveStatus(store: StateStore, rec: ContainerRecord | undefined): Status {
  if (!rec) return 'creating';
  if (!rec.pid || !isSameProcess(rec.pid, rec.pidStartTime)) return 'stopped';
  if (!rec.createdDone) return 'creating';
  if (isFrozen(rec)) return 'paused';
  if (!rec.started && existsSync(store.fifoPath(rec.id))) return 'created';
  return 'running';
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
