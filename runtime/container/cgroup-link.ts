// How the container state machine uses the cgroup manager (runtime/cgroups).
import type { Spec } from '../../spec/types.js';
import type { ContainerRecord } from './store.js';
import { warn } from '../cli/log.js';
import { closeSync, constants, openSync } from 'node:fs';
import { createCgroupManager, loadCgroupManager, type CgroupLayout, type CgroupManager } from '../cgroups/index.js';
import type { CgroupSelfJoin } from '../process/init-plan.js';

export interface ContainerCgroups {
  create(): void;
  apply(pid: number): void;
  /** Write the config's resources (after apply, so limits cover the init). */
  set(): void;
  destroy(): void;
  paths(): Record<string, string>;
  /** The host's hierarchies, as the manager found them (for `cgroup` mounts). */
  hostLayout?: CgroupLayout;
}

export function cgroupsFor(id: string, spec: Spec, opts: { systemd: boolean; rootless: boolean }): ContainerCgroups {
  const manager = createCgroupManager({
    id,
    cgroupsPath: spec.linux?.cgroupsPath,
    systemd: opts.systemd,
    rootless: opts.rootless,
    resources: spec.linux?.resources,
    linuxDevices: spec.linux?.devices,
    warn,
  });
  return {
    create: () => manager.create(),
    apply: (pid) => manager.apply(pid),
    set: () => {
      if (spec.linux?.resources) manager.set(spec.linux.resources);
    },
    destroy: () => manager.destroy(),
    paths: () => manager.paths(),
    hostLayout: manager.hostLayout,
  };
}

export function cgroupsOf(rec: ContainerRecord): CgroupManager {
  return loadCgroupManager(rec.cgroupPaths, { rootless: rec.rootless, linuxDevices: rec.config.linux?.devices, warn });
}

/**
 * A cgroup join of a process that sets itself up meanwhile (the init, an exec'd process). False when
 * it already gave up and exited (ESRCH from cgroup.procs): its own error comes next on the sync
 * channel, and that is what the user must see.
 */
export function joinUnlessExited(join: () => void): boolean {
  try {
    join();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'ESRCH') return false;
    throw e;
  }
}

/** Whether the init (or an exec process) of `spec` may join its cgroups itself (CgroupSelfJoin says when not). */
export function mayJoinCgroupsItself(spec: Spec, rootless: boolean): boolean {
  return !rootless && !(spec.linux?.namespaces ?? []).some((n) => n.type === 'user' || n.type === 'cgroup');
}

/** CgroupSelfJoin's fds for the cgroup directories `paths` (hierarchy key -> directory; "" = cgroup2). */
export function openSelfJoin(paths: Record<string, string>): CgroupSelfJoin {
  const join: CgroupSelfJoin = { tasks: [] };
  try {
    for (const [key, dir] of Object.entries(paths)) {
      if (key === '') join.unifiedFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      else join.tasks.push({ fd: openSync(`${dir}/tasks`, constants.O_WRONLY), path: `${dir}/tasks` });
    }
    return join;
  } catch (e) {
    for (const fd of selfJoinFds(join)) closeSync(fd);
    throw e;
  }
}

export function selfJoinFds(join: CgroupSelfJoin): number[] {
  const tasks = join.tasks.map((t) => t.fd);
  return join.unifiedFd === undefined ? tasks : [join.unifiedFd, ...tasks];
}
