// `tsrun kill ID [SIGNAL]`: signal the init through a pidfd (or every process, with --all).
import type { Sys } from '../sys/sys.js';
import { SIGNALS, SIGRTMAX, SIGRTMIN } from '../sys/constants.js';
import type { StateStore } from './store.js';
import { deriveStatus } from './status.js';
import { ContainerError, WrongStateError } from './errors.js';
import { signalProcess } from './reap.js';
import { UsageError } from '../cli/args.js';

/** KILL, SIGKILL, kill, 9, RTMIN+3 … -> number. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw new UsageError(`invalid signal "${text}"`);
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS[name] !== undefined) return SIGNALS[name];
  const rt = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === 'IN' ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  throw new UsageError(`unknown signal "${text}"`);
}

export async function killContainer(sys: Sys, store: StateStore, id: string, sig: number, all: boolean): Promise<void> {
  const rec = store.read(id);
  if (!rec) throw new WrongStateError(id, 'kill', 'still being created');
  const status = deriveStatus(store, rec);
  if (status === 'stopped') throw new ContainerError(`cannot kill container "${id}": container not running`);
  if (all) {
    const { cgroupsOf } = await import('./cgroup-link.js'); // only --all needs the cgroup manager
    cgroupsOf(rec).killAll(sig);
    return;
  }
  if (!signalProcess(sys, rec.pid, rec.pidStartTime, sig)) {
    throw new ContainerError(`cannot kill container "${id}": container not running`);
  }
}
