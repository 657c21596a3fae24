// Lexical path helpers (no filesystem access): safe to use in the init child.

/** Go's filepath.Clean for absolute paths: "/a/../../b/./c/" -> "/b/c"; ".." never climbs above "/". */
export function cleanAbsolute(p: string): string {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return '/' + out.join('/');
}

/** "/dev/pts" -> "dev/pts" (the form used with a root directory fd); "/" -> "". */
export function relativeToRoot(cleanAbs: string): string {
  return cleanAbs.slice(1);
}

/** Components of a path, without empty and "." parts. */
export function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

export function dirnameOf(cleanAbs: string): string {
  const i = cleanAbs.lastIndexOf('/');
  return i <= 0 ? '/' : cleanAbs.slice(0, i);
}

export function basenameOf(cleanAbs: string): string {
  return cleanAbs.slice(cleanAbs.lastIndexOf('/') + 1);
}

/** True if `p` (clean, relative to the root) is `dir` or below it. */
export function isWithin(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + '/');
}

/** Entries under /proc that may be mount destinations (what lxcfs provides), as runc allows. */
export const PROC_MOUNT_ALLOWED = [
  'proc/cpuinfo', 'proc/diskstats', 'proc/meminfo', 'proc/stat', 'proc/swaps', 'proc/uptime',
  'proc/loadavg', 'proc/slabinfo', 'proc/sys/kernel/ns_last_pid', 'proc/sys/crypto/fips_enabled',
];

/**
 * Why a mount may not go to `rel` (resolved, relative to the rootfs), or null: only a procfs may
 * cover /proc, and below it only the PROC_MOUNT_ALLOWED entries.
 */
export function procMountProblem(rel: string, isProcfs: boolean): string | null {
  if (!isWithin(rel, 'proc')) return null;
  if (rel === 'proc') return isProcfs ? null : '"/proc" cannot be mounted: only a procfs may go there';
  return PROC_MOUNT_ALLOWED.includes(rel) ? null : `"/${rel}" cannot be mounted because it is inside /proc`;
}
