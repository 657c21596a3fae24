// `tsrun ps`, `tsrun events`, `tsrun update`: what the container's cgroup knows and changes.
import { execFileSync } from 'node:child_process';
import type { Sys } from '../sys/sys.js';
import type { Resources } from '../../spec/types.js';
import type { StateStore, ContainerRecord } from './store.js';
import { deriveStatus } from './status.js';
import { ContainerError, WrongStateError } from './errors.js';
import { cgroupsOf } from './cgroup-link.js';
import { mergeResources, statsEventJson } from '../cgroups/index.js';

function liveRecord(store: StateStore, id: string, action: string): ContainerRecord {
  const rec = store.read(id);
  const status = deriveStatus(store, rec);
  if (!rec || status === 'stopped' || status === 'creating') throw new WrongStateError(id, action, status === 'stopped' ? 'stopped' : status);
  return rec;
}

/** Host pids of every process in the container. */
export function containerPids(store: StateStore, id: string): number[] {
  return cgroupsOf(liveRecord(store, id, 'list the processes of')).pids();
}

/** `ps [ps args]` output filtered to the container's processes (as runc: by the PID column). */
export function psTable(pids: number[], psArgs: string[]): string {
  const out = execFileSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  const lines = out.split('\n');
  const header = lines[0];
  const pidColumn = header.trim().split(/\s+/).indexOf('PID');
  if (pidColumn < 0) throw new ContainerError(`ps: no PID column in the output of "ps ${psArgs.join(' ')}"`);
  const wanted = new Set(pids.map(String));
  const rows = lines.slice(1).filter((l) => l.trim() && wanted.has(l.trim().split(/\s+/)[pidColumn]));
  return [header, ...rows].join('\n') + '\n';
}

export function statsJson(store: StateStore, id: string): string {
  return statsEventJson(id, cgroupsOf(liveRecord(store, id, 'read the stats of')).stats());
}

/**
 * `events`: a stats event every interval (or once with --stats), and an OOM event when the kernel
 * kills a process of the container. Ends when the container stops.
 */
export async function streamEvents(store: StateStore, id: string, intervalMs: number, write: (line: string) => void): Promise<void> {
  const rec = liveRecord(store, id, 'watch the events of');
  const cgroups = cgroupsOf(rec);
  const stopOom = cgroups.watchOom(() => write(JSON.stringify({ type: 'oom', id })));
  try {
    for (;;) {
      if (deriveStatus(store, store.read(id)) === 'stopped') return;
      write(statsEventJson(id, cgroups.stats()));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } catch (e) {
    if ((e as Error).name === 'NotFoundError') return; // deleted meanwhile
    throw e;
  } finally {
    stopOom();
  }
}

/** Apply new limits to a live container and keep them in its state. */
export function updateContainer(sys: Sys, store: StateStore, id: string, update: Resources): void {
  const unlock = store.lock(sys, id);
  try {
    const rec = liveRecord(store, id, 'update');
    const merged = mergeResources(rec.config.linux?.resources, update);
    cgroupsOf(rec).set(merged);
    rec.config.linux = { ...(rec.config.linux ?? {}), resources: merged };
    store.write(rec);
  } finally {
    unlock();
  }
}

/** "5s", "500ms", "1m" -> milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new ContainerError(`invalid duration "${text}": use e.g. 5s, 500ms, 1m`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}
