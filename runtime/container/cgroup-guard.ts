// A new container must not land in a cgroup that already holds processes (another container's, or
// the host's): its limits, freezer and `delete` (which kills the whole cgroup) would act on them.
// runc refuses the same way ("container's cgroup is not empty").
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerError } from './errors.js';

/** Throw if any of the cgroup directories (from ContainerCgroups.paths()) already has processes. */
export function refuseOccupiedCgroup(paths: Record<string, string>): void {
  for (const dir of Object.values(paths)) {
    const n = processCount(dir);
    if (n > 0) {
      throw new ContainerError(`linux.cgroupsPath: cgroup ${dir} is not empty: ${n} process(es) already in it (another container?)`);
    }
  }
}

/** Processes in `dir` and its sub-cgroups; 0 if it does not exist yet. */
function processCount(dir: string): number {
  let procs: string;
  try {
    procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
  } catch {
    return 0;
  }
  let n = procs.split('\n').filter(Boolean).length;
  for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) n += processCount(join(dir, sub.name));
  return n;
}
