// What a `cgroup` mount in config.json turns into: the host's hierarchies as the cgroup manager
// detected them (runtime/cgroups/layout.ts, the one place that reads mountinfo for cgroups), seen
// from the container: where its cgroup sits in each. No I/O here.
import { posix } from 'node:path';
import type { CgroupLayout } from '../cgroups/layout.js';

export interface CgroupV1Hierarchy {
  /** Host mountpoint of the hierarchy, e.g. "/sys/fs/cgroup/cpu,cpuacct". */
  mountpoint: string;
  /** Controllers as the kernel names them in /proc/PID/cgroup, e.g. ["cpu", "cpuacct"], ["name=systemd"]. */
  subsystems: string[];
  /** Host directory of the container's cgroup in this hierarchy (bind source without a cgroup ns). */
  hostPath: string;
}

export interface CgroupMountLayout {
  /**
   * "v2": unified host. "v1" and "hybrid": the container sees only the v1 controllers — on a hybrid
   * host runc's v1 code lists `cgroup` mounts and skips the `cgroup2` one, and so does tsrun.
   */
  mode: 'v1' | 'v2' | 'hybrid';
  v1: CgroupV1Hierarchy[];
  /** v2: host directory of the container's cgroup (bind source for the cgroup2 fallback with a cgroup ns). */
  v2Path?: string;
  /** v2: the host's unified mountpoint (bind source for the cgroup2 fallback), "/sys/fs/cgroup". */
  unifiedMountpoint: string;
}

/**
 * `cgroupPaths`: the container's cgroup per hierarchy key ("memory", "cpu", "name=systemd" or
 * "systemd", "" for the unified one), either the host directory (the manager's paths(), e.g.
 * "/sys/fs/cgroup/memory/tsrun/abc") or the cgroup path ("/tsrun/abc"). Hierarchies not listed
 * show tsrun's own cgroup.
 */
export function cgroupMountLayout(host: CgroupLayout, cgroupPaths: Record<string, string> = {}): CgroupMountLayout {
  const given = (s: string) => cgroupPaths[s] ?? (s.startsWith('name=') ? cgroupPaths[s.slice(5)] : undefined);
  const pathFor = (s: string) => given(s) ?? host.own[s];
  const hostDir = (mountpoint: string, root: string, p: string) =>
    p === mountpoint || p.startsWith(mountpoint + '/') ? p : posix.join(mountpoint, posix.relative(root, p));

  if (host.mode === 'v2') {
    const unified = host.unified!;
    return { mode: 'v2', v1: [], unifiedMountpoint: unified.mountpoint, v2Path: hostDir(unified.mountpoint, unified.root, pathFor('') ?? '/') };
  }
  // One entry per mounted hierarchy (cpu and cpuacct share one), in the order they are mounted.
  const byMountpoint = new Map<string, { root: string; subsystems: string[] }>();
  for (const [subsystem, h] of Object.entries(host.v1)) {
    const entry = byMountpoint.get(h.mountpoint) ?? { root: h.root, subsystems: [] };
    entry.subsystems.push(subsystem);
    byMountpoint.set(h.mountpoint, entry);
  }
  const v1 = [...byMountpoint].map(([mountpoint, { root, subsystems }]) => {
    const path = subsystems.map(pathFor).find((p) => p !== undefined) ?? '/';
    return { mountpoint, subsystems, hostPath: hostDir(mountpoint, root, path) };
  });
  return { mode: host.mode, v1, unifiedMountpoint: '/sys/fs/cgroup' };
}
