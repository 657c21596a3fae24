// Which cgroup hierarchies the host has and where the container's cgroup sits in each: what a
// `cgroup` mount in config.json turns into. Runs in the tsrun process (reads /proc with fs).
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { parseMountinfo, readMountinfo } from '../sys/mountinfo.js';
import { parseProcCgroup } from '../cgroups/layout.js';

export interface CgroupV1Hierarchy {
  /** Host mountpoint of the hierarchy, e.g. "/sys/fs/cgroup/cpu,cpuacct". */
  mountpoint: string;
  /** Controllers as the kernel names them in /proc/PID/cgroup, e.g. ["cpu", "cpuacct"], ["name=systemd"]. */
  subsystems: string[];
  /** Host directory of the container's cgroup in this hierarchy (bind source without a cgroup ns). */
  hostPath: string;
}

export interface CgroupLayout {
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

export interface DetectOptions {
  /**
   * The container's cgroup per controller ("memory", "cpu", "name=systemd" or "systemd", "" for the
   * unified hierarchy): either the host directory (runc's GetPaths form, e.g.
   * "/sys/fs/cgroup/memory/tsrun/abc") or the cgroup path ("/tsrun/abc"). Controllers not listed
   * fall back to this process's own cgroup.
   */
  cgroupPaths?: Record<string, string>;
  mountinfo?: string;
  procCgroup?: string;
}

export function detectCgroupLayout(opts: DetectOptions = {}): CgroupLayout {
  const mounts = opts.mountinfo !== undefined ? parseMountinfo(opts.mountinfo) : readMountinfo();
  const ownBySubsystem = parseProcCgroup(opts.procCgroup ?? readFileSync('/proc/self/cgroup', 'utf8'));
  const given = (s: string) => opts.cgroupPaths?.[s] ?? (s.startsWith('name=') ? opts.cgroupPaths?.[s.slice(5)] : undefined);
  const pathFor = (s: string) => given(s) ?? ownBySubsystem[s];
  const hostDir = (mountpoint: string, root: string, p: string) =>
    p === mountpoint || p.startsWith(mountpoint + '/') ? p : posix.join(mountpoint, posix.relative(root, p));

  const unified = mounts.find((m) => m.fstype === 'cgroup2' && m.mountpoint === '/sys/fs/cgroup');
  if (unified) {
    const p = pathFor('') ?? '/';
    return {
      mode: 'v2', v1: [], unifiedMountpoint: unified.mountpoint,
      v2Path: hostDir(unified.mountpoint, unified.root, p),
    };
  }
  const seen = new Set<string>();
  const v1: CgroupV1Hierarchy[] = [];
  for (const m of mounts) {
    if (m.fstype !== 'cgroup') continue;
    const subsystems = m.superOptions.filter((o) => o in ownBySubsystem && !seen.has(o));
    if (subsystems.length === 0) continue;
    subsystems.forEach((s) => seen.add(s));
    const path = subsystems.map(pathFor).find((p) => p !== undefined) ?? '/';
    v1.push({ mountpoint: m.mountpoint, subsystems, hostPath: hostDir(m.mountpoint, m.root, path) });
  }
  const hybrid = mounts.some((m) => m.fstype === 'cgroup2');
  return { mode: hybrid ? 'hybrid' : 'v1', v1, unifiedMountpoint: '/sys/fs/cgroup' };
}
