// `tsrun run`: create + start; in the foreground, forward signals and wait for the process, then
// delete the container and exit with the process's code (or 128 + signal).
import type { Sys } from '../sys/sys.js';
import { PR } from '../sys/constants.js';
import type { StateStore } from './store.js';
import { createContainer, type CreateOptions } from './create.js';
import { startContainer } from './start.js';
import { deleteContainer } from './delete.js';
import { waitForeground } from '../process/foreground.js';

export async function runContainer(sys: Sys, store: StateStore, opts: CreateOptions & { detach: boolean; keep: boolean }): Promise<number> {
  if (!opts.detach) sys.prctl(PR.SET_CHILD_SUBREAPER, 1); // the init is orphaned by stage 1: adopt it
  const rec = await createContainer(sys, store, opts);
  try {
    await startContainer(sys, store, opts.id);
  } catch (e) {
    await deleteContainer(sys, store, opts.id, true).catch(() => undefined);
    throw e;
  }
  if (opts.detach) return 0;

  try {
    return await waitForeground(sys, rec.pid);
  } finally {
    if (!opts.keep) await deleteContainer(sys, store, opts.id, true);
  }
}

