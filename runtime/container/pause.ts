// `tsrun pause ID` / `tsrun resume ID`: freeze or thaw every process of the container.
import type { Sys } from '../sys/sys.js';
import type { StateStore } from './store.js';
import { deriveStatus } from './status.js';
import { WrongStateError } from './errors.js';
import { cgroupsOf } from './cgroup-link.js';

export function pauseContainer(sys: Sys, store: StateStore, id: string): void {
  const unlock = store.lock(sys, id);
  try {
    const rec = store.read(id);
    const status = deriveStatus(store, rec);
    if (!rec || (status !== 'running' && status !== 'created')) throw new WrongStateError(id, 'pause', status);
    cgroupsOf(rec).freeze();
  } finally {
    unlock();
  }
}

export function resumeContainer(sys: Sys, store: StateStore, id: string): void {
  const unlock = store.lock(sys, id);
  try {
    const rec = store.read(id);
    const status = deriveStatus(store, rec);
    if (!rec || status !== 'paused') throw new WrongStateError(id, 'resume', `${status}, not paused`);
    cgroupsOf(rec).thaw();
  } finally {
    unlock();
  }
}
