// `delete --force` of a container whose state file is corrupt, truncated or missing: stop and remove
// what can still be found without trusting the file. Sources, each checked before use:
//   - pid + start time and cgroup paths read out of the damaged text (StateStore.salvage);
//   - processes holding the container's exec fifo (an init waiting for `start` keeps it open);
//   - the overlay rootfs record beside the state (bundles/rootfs.ts).
// What none of these reach (a started container whose cgroup paths are lost) is left for the
// documented manual cleanup, and the returned notes say so.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import type { Sys } from '../sys/sys.js';
import { readMountinfo } from '../sys/mountinfo.js';
import type { StateStore } from './store.js';
import { stopProcess } from './reap.js';
import { processStartTime } from '../process/proc.js';
import { loadCgroupManager } from '../cgroups/index.js';
import { releaseRootfs } from '../../bundles/rootfs.js';
import { warn } from '../cli/log.js';

export async function forceCleanup(sys: Sys, store: StateStore, id: string): Promise<string[]> {
  const notes: string[] = [];
  const left = store.salvage(id);
  const cgroupPaths = left.cgroupPaths && containerCgroupDirs(left.cgroupPaths, notes);
  const cgroups = cgroupPaths ? loadCgroupManager(cgroupPaths, { rootless: left.rootless ?? false, warn }) : undefined;
  if (cgroups) {
    try {
      cgroups.killAll(9);
    } catch (e) {
      notes.push(`kill through cgroup: ${(e as Error).message}`);
    }
  }
  const targets = new Map<number, string>();
  if (left.pid && left.pidStartTime) targets.set(left.pid, left.pidStartTime);
  for (const [pid, start] of fifoHolders(store.fifoPath(id))) targets.set(pid, start);
  for (const [pid, start] of targets) {
    if (!stopProcess(sys, pid, start, 9, 10_000)) notes.push(`process ${pid} did not exit after SIGKILL`);
  }
  if (cgroups) {
    try {
      cgroups.destroy();
    } catch (e) {
      notes.push((e as Error).message);
    }
  } else {
    notes.push('its cgroup paths are lost: remove leftover cgroups by hand (README "Reliability")');
  }
  try {
    await releaseRootfs(id, store.dir(id));
  } catch (e) {
    notes.push((e as Error).message);
  }
  store.remove(id);
  return notes;
}

/** Live processes with an fd open on `fifo` (the created init keeps an O_PATH fd on it), with start times. */
function fifoHolders(fifo: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const fd of safeReaddir(`/proc/${entry}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target === fifo) {
        const start = processStartTime(Number(entry));
        if (start) found.set(Number(entry), start);
        break;
      }
    }
  }
  return found;
}

/**
 * Keep salvaged cgroup paths only if each is a real cgroup directory strictly below a cgroup mount
 * and holds neither this process, its parent, nor PID 1: a damaged file must never make
 * `delete --force` kill a whole hierarchy or its caller.
 */
function containerCgroupDirs(paths: Record<string, string>, notes: string[]): Record<string, string> | undefined {
  const mounts = cgroupMountpoints();
  const protectedPids = new Set([1, process.pid, process.ppid].map(String));
  for (const dir of Object.values(paths)) {
    const clean = posix.normalize(dir);
    const underMount = clean === dir && mounts.some((m) => clean.startsWith(m + '/'));
    if (!underMount || holdsAny(clean, protectedPids)) {
      notes.push(`ignored salvaged cgroup path ${JSON.stringify(dir)}: not a container cgroup`);
      return undefined;
    }
  }
  return paths;
}

function cgroupMountpoints(): string[] {
  return readMountinfo().filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2').map((m) => m.mountpoint);
}

function holdsAny(dir: string, pids: Set<string>): boolean {
  let procs: string;
  try {
    procs = readFileSync(posix.join(dir, 'cgroup.procs'), 'utf8');
  } catch {
    return false; // gone or not a cgroup: nothing to kill there
  }
  if (procs.split('\n').some((p) => pids.has(p))) return true;
  return safeReaddir(dir, true).some((sub) => holdsAny(posix.join(dir, sub), pids));
}

function safeReaddir(dir: string, dirsOnly = false): string[] {
  try {
    return dirsOnly ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name) : readdirSync(dir);
  } catch {
    return [];
  }
}
