// Which cgroup hierarchies this host has, read from /proc/self/mountinfo (never assumed at
// /sys/fs/cgroup): pure v2, v1, or hybrid (v1 controllers plus a cgroup2 mount, usually at
// /sys/fs/cgroup/unified, that has no controllers in use — systemd's "hybrid" layout).
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { CgroupError } from './errors.js';
import { nodeCgroupFs, type CgroupFs } from './cgroup-fs.js';
import { parseMountinfo } from '../sys/mountinfo.js';

export type LayoutMode = 'v1' | 'v2' | 'hybrid';

/** The mode of a container's cgroup from the paths its state kept: v2 has the one key '' (the unified hierarchy). */
export function modeOfPaths(paths: Record<string, string>): LayoutMode {
  const keys = Object.keys(paths);
  return keys.length === 1 && keys[0] === '' ? 'v2' : '' in paths ? 'hybrid' : 'v1';
}

export interface Hierarchy {
  /** Where it is mounted in this mount namespace. */
  mountpoint: string;
  /** The cgroup the mount shows as its top ("/" unless mounted from inside a cgroup namespace or bind). */
  root: string;
}

export interface CgroupLayout {
  mode: LayoutMode;
  /** v1 hierarchies by subsystem: "cpu", "memory", ..., "name=systemd". Empty on pure v2. */
  v1: Record<string, Hierarchy>;
  /** The cgroup2 mount (pure v2: all controllers; hybrid: the unified hierarchy). */
  unified?: Hierarchy & { controllers: string[] };
  /** This process's own cgroup per subsystem ("" = unified), from /proc/self/cgroup. */
  own: Record<string, string>;
}

/** v1 subsystems the manager creates and joins a cgroup in (runc's list, plus its joined named ones). */
export const V1_SUBSYSTEMS = [
  'cpuset', 'devices', 'memory', 'cpu', 'cpuacct', 'pids', 'blkio', 'hugetlb', 'net_cls', 'net_prio',
  'perf_event', 'freezer', 'rdma', 'misc', 'name=systemd',
] as const;

const KNOWN_V1 = new Set<string>([...V1_SUBSYSTEMS, 'debug']);

export interface CgroupMount extends Hierarchy {
  fstype: 'cgroup' | 'cgroup2';
  /** v1: the subsystems of the hierarchy (from the super options). */
  subsystems: string[];
}

export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const m of parseMountinfo(mountinfo)) {
    if (m.fstype !== 'cgroup' && m.fstype !== 'cgroup2') continue;
    const subsystems = m.fstype === 'cgroup' ? m.superOptions.filter((o) => KNOWN_V1.has(o) || o.startsWith('name=')) : [];
    out.push({ fstype: m.fstype, root: m.root, mountpoint: m.mountpoint, subsystems });
  }
  return out;
}

/** /proc/PID/cgroup -> { cpu: "/a", cpuacct: "/a", "name=systemd": "/", "": "/" }. */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '') out[''] = m[2];
    else for (const s of m[1].split(',')) out[s] = m[2];
  }
  return out;
}

export interface DetectOptions {
  mountinfo?: string;
  procCgroup?: string;
  fs?: CgroupFs;
}

export function detectLayout(opts: DetectOptions = {}): CgroupLayout {
  const mounts = parseCgroupMounts(opts.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8'));
  const own = parseProcCgroup(opts.procCgroup ?? readFileSync('/proc/self/cgroup', 'utf8'));
  const fs = opts.fs ?? nodeCgroupFs;
  const v1: Record<string, Hierarchy> = {};
  let unified: CgroupLayout['unified'];
  for (const m of mounts) {
    if (m.fstype === 'cgroup2') {
      // A bind of the same hierarchy may appear again (e.g. inside a container's rootfs): keep the first.
      if (!unified) {
        let controllers: string[] = [];
        try {
          controllers = fs.read(posix.join(m.mountpoint, 'cgroup.controllers')).trim().split(/\s+/).filter(Boolean);
        } catch {
          // unreadable: treat as no controllers
        }
        unified = { mountpoint: m.mountpoint, root: m.root, controllers };
      }
      continue;
    }
    for (const s of m.subsystems) if (!v1[s]) v1[s] = { mountpoint: m.mountpoint, root: m.root };
  }
  const hasV1Controllers = Object.keys(v1).some((s) => !s.startsWith('name='));
  if (!hasV1Controllers && !unified) throw new CgroupError('cgroup: no cgroup hierarchy is mounted (no cgroup or cgroup2 entry in /proc/self/mountinfo)');
  if (!hasV1Controllers) return { mode: 'v2', v1: {}, unified, own };
  return { mode: unified ? 'hybrid' : 'v1', v1, unified, own };
}
