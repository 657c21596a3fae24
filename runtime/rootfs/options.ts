// OCI mount options -> mount(2) flags, propagation changes and filesystem data, with runc's
// semantics (libcontainer/specconv parseMountOptions): later options win, "rw"/"suid"/... clear a
// flag and remember that they did, unknown options are filesystem data.
import { MS } from '../sys/constants.js';

/** mount_setattr(2) MOUNT_ATTR_* bits, for the recursive r* options. */
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME_MASK: 0x70, RELATIME: 0x0,
  NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80, IDMAP: 0x100000, NOSYMFOLLOW: 0x200000,
} as const;

const FLAG_OPTIONS: Record<string, { clear: boolean; flag: number }> = {
  async: { clear: true, flag: MS.SYNCHRONOUS },
  atime: { clear: true, flag: MS.NOATIME },
  bind: { clear: false, flag: MS.BIND },
  dev: { clear: true, flag: MS.NODEV },
  diratime: { clear: true, flag: MS.NODIRATIME },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  exec: { clear: true, flag: MS.NOEXEC },
  iversion: { clear: false, flag: MS.I_VERSION },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  loud: { clear: true, flag: MS.SILENT },
  mand: { clear: false, flag: MS.MANDLOCK },
  noatime: { clear: false, flag: MS.NOATIME },
  nodev: { clear: false, flag: MS.NODEV },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  noexec: { clear: false, flag: MS.NOEXEC },
  noiversion: { clear: true, flag: MS.I_VERSION },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  nomand: { clear: true, flag: MS.MANDLOCK },
  norelatime: { clear: true, flag: MS.RELATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  nosuid: { clear: false, flag: MS.NOSUID },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
  relatime: { clear: false, flag: MS.RELATIME },
  remount: { clear: false, flag: MS.REMOUNT },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  silent: { clear: false, flag: MS.SILENT },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  suid: { clear: true, flag: MS.NOSUID },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
  symfollow: { clear: true, flag: MS.NOSYMFOLLOW },
};

export const PROPAGATION_FLAGS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

const REC_ATTR_OPTIONS: Record<string, { clear: boolean; attr: number }> = {
  rro: { clear: false, attr: MOUNT_ATTR.RDONLY },
  rrw: { clear: true, attr: MOUNT_ATTR.RDONLY },
  rnosuid: { clear: false, attr: MOUNT_ATTR.NOSUID },
  rsuid: { clear: true, attr: MOUNT_ATTR.NOSUID },
  rnodev: { clear: false, attr: MOUNT_ATTR.NODEV },
  rdev: { clear: true, attr: MOUNT_ATTR.NODEV },
  rnoexec: { clear: false, attr: MOUNT_ATTR.NOEXEC },
  rexec: { clear: true, attr: MOUNT_ATTR.NOEXEC },
  rnodiratime: { clear: false, attr: MOUNT_ATTR.NODIRATIME },
  rdiratime: { clear: true, attr: MOUNT_ATTR.NODIRATIME },
  rrelatime: { clear: false, attr: MOUNT_ATTR.RELATIME },
  rnorelatime: { clear: true, attr: MOUNT_ATTR.RELATIME },
  rnoatime: { clear: false, attr: MOUNT_ATTR.NOATIME },
  ratime: { clear: true, attr: MOUNT_ATTR.NOATIME },
  rstrictatime: { clear: false, attr: MOUNT_ATTR.STRICTATIME },
  rnostrictatime: { clear: true, attr: MOUNT_ATTR.STRICTATIME },
  rnosymfollow: { clear: false, attr: MOUNT_ATTR.NOSYMFOLLOW },
  rsymfollow: { clear: true, attr: MOUNT_ATTR.NOSYMFOLLOW },
};

export interface ParsedMountOptions {
  /** MS_* flags to set. */
  flags: number;
  /** MS_* flags an option explicitly cleared ("rw", "suid", ...): a bind remount must honour them. */
  clearedFlags: number;
  /** Propagation changes, applied one by one after the mount, in the order given. */
  propagation: number[];
  /** Filesystem-specific options, passed to mount(2) as data. */
  data: string[];
  /** mount_setattr(2) attributes for the recursive r* options (0/0 when none). */
  recAttrSet: number;
  recAttrClr: number;
  tmpcopyup: boolean;
  /** "idmap" / "ridmap" (or X-mount.idmap). */
  idmap: 'idmap' | 'ridmap' | null;
  /** Userspace-only options (mount(8)'s X-* / x-*) that never reach the kernel. */
  ignored: string[];
  /** Options that look like a misspelt propagation value, e.g. "rshard". */
  suspectPropagation: string[];
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  const r: ParsedMountOptions = {
    flags: 0, clearedFlags: 0, propagation: [], data: [], recAttrSet: 0, recAttrClr: 0,
    tmpcopyup: false, idmap: null, ignored: [], suspectPropagation: [],
  };
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f) {
      if (f.clear) { r.flags &= ~f.flag; r.clearedFlags |= f.flag; }
      else { r.flags |= f.flag; r.clearedFlags &= ~f.flag; }
      continue;
    }
    if (o === 'defaults') continue; // mount(8): rw,suid,dev,exec,auto,nouser,async — all kernel defaults
    const p = PROPAGATION_FLAGS[o];
    if (p !== undefined) { r.propagation.push(p); continue; }
    const a = REC_ATTR_OPTIONS[o];
    if (a) {
      if (a.clear) { r.recAttrClr |= a.attr; r.recAttrSet &= ~a.attr; }
      else { r.recAttrSet |= a.attr; r.recAttrClr &= ~a.attr; }
      // mount_setattr(2): an atime value in attr_set needs MOUNT_ATTR__ATIME in attr_clr.
      if ((a.attr & MOUNT_ATTR.ATIME_MASK) === a.attr) r.recAttrClr |= MOUNT_ATTR.ATIME_MASK;
      continue;
    }
    if (o === 'tmpcopyup') { r.tmpcopyup = true; continue; }
    if (o === 'idmap' || o === 'ridmap') { r.idmap = o; continue; }
    if (/^x-mount\.idmap(=|$)/i.test(o)) { r.idmap = r.idmap ?? 'idmap'; continue; }
    if (/^x-/i.test(o)) { r.ignored.push(o); continue; }
    if (looksLikePropagation(o)) r.suspectPropagation.push(o);
    r.data.push(o);
  }
  return r;
}

/** Within two edits of a propagation keyword but not one: almost certainly a typo, not fs data. */
function looksLikePropagation(o: string): boolean {
  if (o.length < 5 || o.includes('=')) return false;
  return Object.keys(PROPAGATION_FLAGS).some((k) => editDistance(o, k) <= (k.length >= 8 ? 2 : 1));
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Names for MS_* bits, for messages and tests. */
export function describeMountFlags(flags: number): string {
  const names = Object.entries(MS).filter(([, v]) => (flags & v) === v && v !== 0).map(([k]) => k);
  return names.length ? names.join('|') : '0';
}
