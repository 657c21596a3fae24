// `tsrun run`: create + start; in the foreground, forward signals and wait for the process, then
// delete the container and exit with the process's code (or 128 + signal). A terminal without
// --console-socket is received here and proxied to the caller's terminal.
import type { Sys } from '../sys/sys.js';
import { PR } from '../sys/constants.js';
import type { StateStore, ContainerRecord } from './store.js';
import { createContainer, type CreateOptions } from './create.js';
import { startContainer } from './start.js';
import { deleteContainer } from './delete.js';
import { waitForeground } from '../process/foreground.js';
import { OwnConsoleReceiver, proxyTerminal } from '../process/console.js';
import { debugStep } from '../cli/log.js';

export async function runContainer(sys: Sys, store: StateStore, opts: CreateOptions & { detach: boolean; keep: boolean }): Promise<number> {
  if (!opts.detach) sys.prctl(PR.SET_CHILD_SUBREAPER, 1); // the init is orphaned by stage 1: adopt it
  const receiver = !opts.detach && !opts.consoleSocket ? new OwnConsoleReceiver(sys) : undefined;
  let master: number | undefined;
  let rec: ContainerRecord;
  try {
    rec = await createContainer(sys, store, { ...opts, ownConsole: receiver });
    try {
      if (receiver && rec.config.process?.terminal) master = receiver.receive();
      await startContainer(sys, store, opts.id);
    } catch (e) {
      if (master !== undefined) sys.close(master);
      await deleteContainer(sys, store, opts.id, true).catch(() => undefined);
      throw e;
    }
  } finally {
    receiver?.close();
  }
  if (opts.detach) return 0;

  try {
    if (master !== undefined) return await proxyTerminal(sys, master, rec.pid, { appliedSize: rec.config.process?.consoleSize ? undefined : receiver?.callerSize });
    return await waitForeground(sys, rec.pid);
  } finally {
    debugStep('run: the process has exited');
    if (!opts.keep) await deleteContainer(sys, store, opts.id, true);
    debugStep('run: container deleted');
  }
}
