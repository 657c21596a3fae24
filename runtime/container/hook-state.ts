import type { ContainerRecord } from './store.js';
import type { State } from '../../spec/types.js';

/** The state JSON hooks get on stdin. */
export function hookState(rec: ContainerRecord, status: State['status']): State {
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    status,
    pid: rec.pid || undefined,
    bundle: rec.bundle,
    annotations: rec.annotations ?? {},
  } as State;
}
