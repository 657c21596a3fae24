// Where the container's cgroup is in each hierarchy. `linux.cgroupsPath` is absolute (from the
// hierarchy's top), relative (to this process's own cgroup, as runc does for dind-like setups), or
// absent: then "/tsrun/<id>".
import { posix } from 'node:path';
import type { CgroupLayout, Hierarchy } from './layout.js';
import { V1_SUBSYSTEMS } from './layout.js';
import { CgroupError } from './errors.js';

export const DEFAULT_PARENT = '/tsrun';

/** The cleaned cgroup path: absolute stays absolute, relative stays relative; ".." never climbs out. */
export function innerCgroupPath(id: string, cgroupsPath?: string): string {
  if (cgroupsPath === undefined || cgroupsPath === '') return posix.join(DEFAULT_PARENT, id);
  const absolute = cgroupsPath.startsWith('/');
  const cleaned = posix.normalize(posix.join('/', cgroupsPath));
  if (cleaned === '/') {
    if (absolute) throw new CgroupError(`cgroup: linux.cgroupsPath ${JSON.stringify(cgroupsPath)} names the root cgroup`, { field: 'linux.cgroupsPath' });
    throw new CgroupError(`cgroup: linux.cgroupsPath ${JSON.stringify(cgroupsPath)} names the caller's own cgroup`, { field: 'linux.cgroupsPath' });
  }
  return absolute ? cleaned : cleaned.slice(1);
}

function dirIn(h: Hierarchy, own: string | undefined, inner: string): string {
  if (inner.startsWith('/')) return posix.join(h.mountpoint, inner);
  if (own === undefined) throw new CgroupError(`cgroup: relative linux.cgroupsPath ${JSON.stringify(inner)}: this process's cgroup in ${h.mountpoint} is unknown (/proc/self/cgroup)`, { field: 'linux.cgroupsPath' });
  const rel = posix.relative(h.root, own);
  return posix.join(h.mountpoint, rel, inner);
}

/**
 * Directory per hierarchy, keyed like runc's state.json `cgroup_paths`: v1 subsystem names, and ""
 * for the unified hierarchy (pure v2, and hybrid where the cgroup is also made in the unified tree).
 */
export function resolvePaths(layout: CgroupLayout, inner: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (layout.mode !== 'v2') {
    for (const s of V1_SUBSYSTEMS) {
      const h = layout.v1[s];
      if (h) out[s] = dirIn(h, layout.own[s], inner);
    }
  }
  if (layout.unified && layout.mode !== 'v1') out[''] = dirIn(layout.unified, layout.own[''], inner);
  return out;
}
