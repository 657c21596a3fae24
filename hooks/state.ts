// The state JSON a hook reads on stdin (runtime-spec runtime.md "State"). Only the OCI fields go in:
// runc's additions to `tsrun state` output (rootfs, created, owner) are not part of what hooks get.
import type { State } from '../spec/types.js';

export function hookStateJson(state: State): string {
  const out: Record<string, unknown> = {
    ociVersion: state.ociVersion,
    id: state.id,
    status: state.status,
  };
  if (state.pid !== undefined && state.pid > 0) out.pid = state.pid;
  out.bundle = state.bundle;
  if (state.annotations !== undefined) out.annotations = state.annotations;
  return JSON.stringify(out);
}

/** The same, encoded once in the parent for the forked init (`runHookSync` takes bytes). */
export function hookStateBuffer(state: State): Buffer {
  return Buffer.from(hookStateJson(state));
}
