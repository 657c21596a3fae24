// How the container state machine uses the cgroup manager (runtime/cgroups).
import type { Spec } from '../../spec/types.js';
import type { ContainerRecord } from './store.js';
import { warn } from '../cli/log.js';
import { createCgroupManager, loadCgroupManager, type CgroupLayout, type CgroupManager } from '../cgroups/index.js';

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
