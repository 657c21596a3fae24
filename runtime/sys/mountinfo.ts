// /proc/PID/mountinfo, parsed once for everyone who needs it (cgroup layout, rootfs plan, salvage).
import { readFileSync } from 'node:fs';

export interface MountinfoEntry {
  /** The path inside the mounted filesystem that is the mount's top (field 4). */
  root: string;
  mountpoint: string;
  fstype: string;
  /** Per-superblock options, e.g. a v1 cgroup hierarchy's controllers. */
  superOptions: string[];
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    out.push({ root: unescape(left[3]), mountpoint: unescape(left[4]), fstype, superOptions: superOptions.split(',') });
  }
  return out;
}

export function readMountinfo(pid: number | 'self' = 'self'): MountinfoEntry[] {
  return parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
}
