// planRootfs: config.json + bundle facts -> a RootfsPlan, everything decided and every string built
// in the tsrun process, so the forked init (applyRootfs) only walks the list making system calls.
import { existsSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { posix } from 'node:path';
import type { Spec, Mount, Device, IDMapping } from '../../spec/types.js';
import { MS, S } from '../sys/constants.js';
import { RootfsConfigError } from './errors.js';
import { parseMountOptions, PROPAGATION_FLAGS } from './options.js';
import { cleanAbsolute, relativeToRoot, basenameOf, isWithin, procMountProblem } from './paths.js';
import { cgroupMountLayout } from './cgroup-layout.js';
import { detectLayout, type CgroupLayout } from '../cgroups/layout.js';
import { readMountinfo } from '../sys/mountinfo.js';

export interface RootfsOptions {
  bundle: string;
  /** Absolute host path of the container's root filesystem. */
  rootfs: string;
  noPivot: boolean;
  /** The container gets a new user namespace (devices are bind-mounted, not made with mknod). */
  userns: boolean;
  /** The container gets a new cgroup namespace (v1: real `cgroup` mounts per controller). Default: from linux.namespaces. */
  cgroupns?: boolean;
  /** For a `cgroup` mount: the container's cgroups (the cgroup manager's paths()). */
  cgroupPaths?: Record<string, string>;
  /** For a `cgroup` mount: the host's hierarchies as the cgroup manager found them; detected when absent. */
  hostCgroups?: CgroupLayout;
  /** From bundles/: mount this on the rootfs instead of bind-mounting the rootfs on itself. */
  overlay?: { source: string; fstype: string; data: string } | null;
  /** The init will bind the console pty onto /dev/console (see mountConsole): create the file. */
  consoleSlave?: boolean;
  /** For --no-pivot: host proc/sysfs mountpoints to hide; read from /proc/self/mountinfo when absent. */
  hostProcSysMounts?: string[];
  /** Whether the host has /proc/kcore (for the /dev/core link); checked when absent. */
  hostHasKcore?: boolean;
  /** linux.uidMappings/gidMappings: what an "idmap" mount without its own mappings uses. */
  idMappings?: { uid?: IDMapping[]; gid?: IDMapping[] };
}

export type MountKind = 'bind' | 'proc' | 'sysfs' | 'tmpfs' | 'other';

export interface PlannedMount {
  op: 'mount';
  /** Where it came from, for messages: "mounts[3]". */
  where: string;
  /** Clean absolute path inside the container, e.g. "/dev/pts". */
  destination: string;
  /** The same relative to the rootfs: "dev/pts". */
  rel: string;
  source: string | null;
  fstype: string | null;
  kind: MountKind;
  /** Flags of the first mount(2) call (MS_RDONLY is postponed for tmpfs and /dev). */
  flags: number;
  data: string | null;
  /** Propagation changes applied to the new mount, in order. */
  propagation: number[];
  /** Create an empty file, not a directory, when the destination is missing (bind of a file). */
  dstIsFile: boolean;
  /** Bind only: flags of the MS_BIND|MS_REMOUNT call that applies the requested flags; 0 = none. */
  remountFlags: number;
  clearedFlags: number;
  /** tmpfs over an existing directory keeps that directory's mode (mode= is prepended to data). */
  copyMode: boolean;
  /** "tmpcopyup": the tmpfs starts with a copy of the directory it covers (owner included). */
  copyUp?: boolean;
  /** "idmap"/"ridmap" bind: the source is cloned and idmapped by tsrun (prepareIdmappedMounts) before the fork. */
  idmap?: IdmapPlan;
  /** Recursive r* options: mount_setattr(2) MOUNT_ATTR_* bits set and cleared on the whole tree. */
  recursiveAttr?: { set: number; clear: number };
  /** The source is the root of a procfs (the only bind allowed over /proc). */
  srcIsProcfs: boolean;
  /** Mount this instead when the first mount(2) fails with one of `fallbackOn` (errno names). */
  fallback?: PlannedMount;
  fallbackOn?: string[];
}

export interface IdmapPlan {
  /** "ridmap": every mount of the tree, not only its top. */
  recursive: boolean;
  uidMappings: IDMapping[];
  gidMappings: IDMapping[];
  /** The detached, idmapped tree (open_tree fd), moved into place by the init. */
  treeFd?: number;
}

export interface PlannedSymlink {
  op: 'symlink';
  where: string;
  target: string;
  /** Link path relative to the rootfs; an existing entry is left alone. */
  rel: string;
}

export type RootfsStep = PlannedMount | PlannedSymlink;

export interface PlannedDevice {
  path: string;
  /** Parent directory relative to the rootfs, and the node's name in it. */
  parentRel: string;
  name: string;
  /** S_IFCHR/S_IFBLK/S_IFIFO | permission bits. */
  mode: number;
  major: number;
  minor: number;
  uid: number;
  gid: number;
}

export interface RootfsPlan {
  rootfs: string;
  /** mount("", "/", MS_SLAVE|MS_REC or linux.rootfsPropagation) before anything else. */
  rootPropagation: number;
  /** The rootfs's parent mount is made this (MS_PRIVATE, or MS_SLAVE): tried on these paths in turn. */
  parentPropagation: number;
  parentCandidates: string[];
  overlay: { source: string; fstype: string; data: string } | null;
  steps: RootfsStep[];
  /** False when config.json bind-mounts /dev: no devices, /dev/ptmx or /dev links then. */
  setupDev: boolean;
  /** Devices are bind-mounted from the host (user namespace) instead of made with mknod. */
  bindDevices: boolean;
  devices: PlannedDevice[];
  devSymlinks: { target: string; rel: string }[];
  consoleFile: boolean;
  pivot: 'pivot_root' | 'move';
  /** --no-pivot: host proc/sysfs mountpoints to detach (or cover) before MS_MOVE. */
  noPivotHide: string[];
  /** Propagation for "/" after the pivot (shared/unbindable rootfsPropagation); 0 = none. */
  postPivotPropagation: number;
  cwd: string | null;
  maskedPaths: string[];
  readonlyPaths: string[];
  /** tmpfs and /dev mounts asked "ro": remounted read-only in finishRootfs. */
  readonlyRemounts: { destination: string; flags: number }[];
  readonlyRoot: boolean;
  /** Options that were dropped (mount(8) userspace X-* options), for a warning. */
  warnings: string[];
}

const DEFAULT_DEVICES: Omit<PlannedDevice, 'parentRel' | 'name'>[] = [
  ['/dev/null', 1, 3], ['/dev/zero', 1, 5], ['/dev/full', 1, 7],
  ['/dev/random', 1, 8], ['/dev/urandom', 1, 9], ['/dev/tty', 5, 0],
].map(([path, major, minor]) => ({ path: path as string, mode: S.IFCHR | 0o666, major: major as number, minor: minor as number, uid: 0, gid: 0 }));

const DEV_SYMLINKS = [
  { target: '/proc/self/fd', rel: 'dev/fd' },
  { target: '/proc/self/fd/0', rel: 'dev/stdin' },
  { target: '/proc/self/fd/1', rel: 'dev/stdout' },
  { target: '/proc/self/fd/2', rel: 'dev/stderr' },
];

const CGROUP_MOUNT_FLAGS = MS.NOEXEC | MS.NOSUID | MS.NODEV;
const PROC_SUPER_MAGIC = 0x9fa0;

function noNul(where: string, value: string | undefined): void {
  if (value !== undefined && value.includes('\0')) throw new RootfsConfigError(where, 'contains a NUL byte');
}

function absolutePath(where: string, p: unknown): string {
  if (typeof p !== 'string' || p === '') throw new RootfsConfigError(where, 'required');
  noNul(where, p);
  if (!p.startsWith('/')) throw new RootfsConfigError(where, `${JSON.stringify(p)} is not an absolute path`);
  return cleanAbsolute(p);
}

function checkProcDestination(where: string, rel: string, m: PlannedMount): void {
  const problem = procMountProblem(rel, m.kind === 'proc' || (m.kind === 'bind' && m.srcIsProcfs));
  if (problem) throw new RootfsConfigError(where, problem);
}

export function planRootfs(spec: Spec, opts: RootfsOptions): RootfsPlan {
  if (!opts.rootfs.startsWith('/')) throw new RootfsConfigError('root.path', `rootfs ${JSON.stringify(opts.rootfs)} must be an absolute host path`);
  // The init compares /proc/self/fd links against this string, so it must be symlink-free.
  let rootfs: string;
  try {
    rootfs = realpathSync(opts.rootfs);
  } catch (e) {
    throw new RootfsConfigError('root.path', `${JSON.stringify(opts.rootfs)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // Refused as runc refuses it ("not an absolute path, or a symlink"), so that a bundle runs on
  // both or on neither; the message gives the path to use instead.
  if (rootfs !== posix.normalize(opts.rootfs).replace(/(.)\/$/, '$1')) {
    throw new RootfsConfigError('root.path', `rootfs ${JSON.stringify(opts.rootfs)} goes through a symlink (it is ${JSON.stringify(rootfs)}): give the real path, as runc requires`);
  }
  const linux = spec.linux ?? {};
  const warnings: string[] = [];

  let rootPropagation = MS.SLAVE | MS.REC;
  let configuredRootPropagation = 0;
  if (linux.rootfsPropagation !== undefined) {
    const f = PROPAGATION_FLAGS[linux.rootfsPropagation];
    if (f === undefined) throw new RootfsConfigError('linux.rootfsPropagation', `unknown propagation ${JSON.stringify(linux.rootfsPropagation)}`);
    rootPropagation = configuredRootPropagation = f;
  }

  opts = { ...opts, cgroupns: opts.cgroupns ?? (linux.namespaces ?? []).some((n) => n.type === 'cgroup') };
  const steps: RootfsStep[] = [];
  const readonlyRemounts: RootfsPlan['readonlyRemounts'] = [];
  let setupDev = true;
  let hasProc = false;
  (spec.mounts ?? []).forEach((m, i) => {
    const planned = planMount(m, i, opts, warnings);
    for (const s of planned) {
      steps.push(s);
      if (s.op !== 'mount') continue;
      if (s.kind === 'proc') hasProc = true;
      if (s.kind === 'bind' && s.destination === '/dev') setupDev = false;
    }
    // As runc's finalizeRootfs: tmpfs and /dev were mounted rw so the init could fill them.
    const first = planned[0];
    const requested = parseMountOptions(m.options).flags;
    if (first?.op === 'mount' && (requested & MS.RDONLY) && ((first.kind === 'tmpfs' && m.type === 'tmpfs') || first.destination === '/dev')) {
      readonlyRemounts.push({ destination: first.destination, flags: requested });
    }
  });

  const devices = setupDev ? planDevices(linux.devices ?? []) : [];
  const devSymlinks = setupDev ? [...DEV_SYMLINKS] : [];
  const hostHasKcore = opts.hostHasKcore ?? existsSync('/proc/kcore');
  if (setupDev && hasProc && hostHasKcore) devSymlinks.push({ target: '/proc/kcore', rel: 'dev/core' });

  const maskedPaths = [...new Set((linux.maskedPaths ?? []).map((p, i) => absolutePath(`linux.maskedPaths[${i}]`, p)))];
  const readonlyPaths = (linux.readonlyPaths ?? []).map((p, i) => absolutePath(`linux.readonlyPaths[${i}]`, p));

  const parentCandidates: string[] = [];
  for (let p = rootfs; ; p = posix.dirname(p)) {
    parentCandidates.push(p);
    if (p === '/') break;
  }

  let noPivotHide: string[] = [];
  if (opts.noPivot) {
    noPivotHide = opts.hostProcSysMounts ?? readMountinfo()
      .filter((m) => m.root === '/' && (m.fstype === 'proc' || m.fstype === 'sysfs') && !isWithin(m.mountpoint, rootfs))
      .map((m) => m.mountpoint);
  }

  const cwd = spec.process?.cwd;
  return {
    rootfs,
    rootPropagation,
    parentPropagation: configuredRootPropagation & MS.SLAVE ? MS.SLAVE : MS.PRIVATE,
    parentCandidates,
    overlay: opts.overlay ?? null,
    steps,
    setupDev,
    bindDevices: opts.userns,
    devices,
    devSymlinks,
    consoleFile: setupDev && !!opts.consoleSlave,
    pivot: opts.noPivot ? 'move' : 'pivot_root',
    noPivotHide,
    postPivotPropagation: configuredRootPropagation & (MS.PRIVATE | MS.SLAVE) ? 0 : configuredRootPropagation,
    cwd: cwd && cwd.startsWith('/') ? cleanAbsolute(cwd) : null,
    maskedPaths,
    readonlyPaths,
    readonlyRemounts,
    readonlyRoot: spec.root?.readonly === true,
    warnings,
  };
}

function planMount(m: Mount, i: number, opts: RootfsOptions, warnings: string[]): RootfsStep[] {
  const where = `mounts[${i}]`;
  const destination = absolutePath(`${where}.destination`, m.destination);
  if (destination === '/') throw new RootfsConfigError(`${where}.destination`, 'cannot mount over the container root "/" (use root.path)');
  noNul(`${where}.source`, m.source);
  noNul(`${where}.type`, m.type);
  const o = parseMountOptions(m.options);
  if (o.suspectPropagation.length) throw new RootfsConfigError(`${where}.options`, `unknown propagation ${JSON.stringify(o.suspectPropagation[0])}`);
  if (o.tmpcopyup && (m.type ?? '') !== 'tmpfs') throw new RootfsConfigError(`${where}.options`, '"tmpcopyup" applies to tmpfs mounts only');
  for (const x of o.ignored) warnings.push(`${where}.options: ${JSON.stringify(x)} ignored (userspace-only mount(8) option)`);

  const isBind = (o.flags & MS.BIND) !== 0;
  if ((o.idmap || m.uidMappings || m.gidMappings) && !isBind) {
    throw new RootfsConfigError(`${where}.options`, 'idmapped mounts ("idmap", "ridmap", uidMappings/gidMappings) need a bind mount ("bind" or "rbind")');
  }
  const type = m.type ?? '';
  const base: PlannedMount = {
    op: 'mount', where, destination, rel: relativeToRoot(destination),
    source: m.source ?? (type || null), fstype: type || null, kind: 'other',
    flags: o.flags, data: o.data.length ? o.data.join(',') : null, propagation: o.propagation,
    dstIsFile: false, remountFlags: 0, clearedFlags: o.clearedFlags, copyMode: false, srcIsProcfs: false,
    ...(o.recAttrSet || o.recAttrClr ? { recursiveAttr: { set: o.recAttrSet, clear: o.recAttrClr } } : {}),
  };

  if (isBind) {
    if (!m.source) throw new RootfsConfigError(`${where}.source`, 'required for a bind mount');
    const source = m.source.startsWith('/') ? m.source : posix.join(opts.bundle, m.source);
    let st;
    try {
      st = statSync(source);
    } catch (e) {
      throw new RootfsConfigError(`${where}.source`, `${JSON.stringify(source)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const planned = planBind({ ...base, source, fstype: 'bind' }, !st.isDirectory());
    if (o.idmap || m.uidMappings || m.gidMappings) planned.idmap = planIdmap(m, where, o.idmap === 'ridmap', opts);
    if (planned.rel === 'proc' || planned.rel === '') {
      try { planned.srcIsProcfs = statfsSync(source).type === PROC_SUPER_MAGIC; } catch { /* not procfs */ }
    }
    checkProcDestination(`${where}.destination`, planned.rel, planned);
    return [planned];
  }

  switch (type) {
    case 'proc':
    case 'sysfs': {
      const planned: PlannedMount = { ...base, kind: type };
      if (type === 'sysfs' && opts.userns) {
        // Without its own network namespace a user namespace may not mount sysfs: bind the host's.
        planned.fallback = planBind({ ...base, source: '/sys', fstype: 'bind', flags: o.flags | MS.BIND | MS.REC }, false);
        planned.fallbackOn = ['EPERM'];
      }
      checkProcDestination(`${where}.destination`, planned.rel, planned);
      return [planned];
    }
    case 'tmpfs': {
      const planned: PlannedMount = { ...base, kind: 'tmpfs', copyMode: true, flags: o.flags & ~MS.RDONLY, ...(o.tmpcopyup ? { copyUp: true } : {}) };
      checkProcDestination(`${where}.destination`, planned.rel, planned);
      return [planned];
    }
    case 'cgroup':
      return planCgroup(base, opts);
    default: {
      const planned: PlannedMount = { ...base, flags: destination === '/dev' ? o.flags & ~MS.RDONLY : o.flags };
      checkProcDestination(`${where}.destination`, planned.rel, planned);
      return [planned];
    }
  }
}

function planIdmap(m: Mount, where: string, recursive: boolean, opts: RootfsOptions): IdmapPlan {
  const uidMappings = m.uidMappings ?? opts.idMappings?.uid ?? [];
  const gidMappings = m.gidMappings ?? opts.idMappings?.gid ?? [];
  if (!uidMappings.length || !gidMappings.length) {
    throw new RootfsConfigError(`${where}.options`, 'an idmapped mount needs uidMappings and gidMappings, on the mount or in linux');
  }
  return { recursive, uidMappings, gidMappings };
}

function planBind(m: PlannedMount, dstIsFile: boolean): PlannedMount {
  const requested = m.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  const needsRemount = requested !== 0 || m.clearedFlags !== 0;
  return {
    ...m,
    kind: 'bind',
    dstIsFile,
    flags: m.destination === '/dev' ? m.flags & ~MS.RDONLY : m.flags,
    remountFlags: needsRemount ? m.flags | MS.BIND | MS.REMOUNT : 0,
  };
}

function planCgroup(base: PlannedMount, opts: RootfsOptions): RootfsStep[] {
  const layout = cgroupMountLayout(opts.hostCgroups ?? detectLayout(), opts.cgroupPaths);
  if (layout.mode === 'v2') {
    const bindSource = opts.cgroupns && layout.v2Path ? layout.v2Path : layout.unifiedMountpoint;
    return [{
      ...base, fstype: 'cgroup2', source: base.source ?? 'cgroup',
      fallback: planBind({ ...base, source: bindSource, fstype: 'bind', flags: base.flags | MS.BIND, data: null }, false),
      fallbackOn: ['EPERM', 'EBUSY'],
    }];
  }
  // v1 (and hybrid, as runc): a tmpfs with one mount per hierarchy, plus links for merged ones.
  const steps: RootfsStep[] = [{
    ...base, kind: 'tmpfs', source: 'tmpfs', fstype: 'tmpfs', flags: CGROUP_MOUNT_FLAGS, data: 'mode=755',
    copyMode: false, clearedFlags: 0,
  }];
  for (const h of layout.v1) {
    const name = basenameOf(h.mountpoint);
    const destination = posix.join(base.destination, name);
    const sub: PlannedMount = { ...base, destination, rel: relativeToRoot(destination), where: `${base.where} (cgroup ${name})` };
    const bind = planBind({ ...sub, source: h.hostPath, fstype: 'bind', flags: MS.BIND | MS.REC | base.flags, data: null, clearedFlags: 0 }, false);
    if (opts.cgroupns) {
      const named = h.subsystems.find((s) => s.startsWith('name='));
      steps.push({
        ...sub, kind: 'other', propagation: [], clearedFlags: 0,
        source: named ? named.slice(5) : 'cgroup', fstype: 'cgroup',
        flags: CGROUP_MOUNT_FLAGS | (base.flags & MS.RDONLY),
        data: named ? named : name,
        fallback: bind, fallbackOn: ['EPERM', 'EBUSY'],
      });
    } else {
      steps.push(bind);
    }
  }
  for (const h of layout.v1) {
    const name = basenameOf(h.mountpoint);
    if (!name.includes(',')) continue;
    for (const s of name.split(',')) {
      steps.push({ op: 'symlink', where: base.where, target: name, rel: posix.join(base.rel, s) });
    }
  }
  return steps;
}

function planDevices(specDevices: Device[]): PlannedDevice[] {
  const fromSpec = specDevices.map((d, i): PlannedDevice => {
    const where = `linux.devices[${i}]`;
    const path = absolutePath(`${where}.path`, d.path);
    let ifmt: number;
    switch (d.type) {
      case 'c': case 'u': ifmt = S.IFCHR; break;
      case 'b': ifmt = S.IFBLK; break;
      case 'p': ifmt = S.IFIFO; break;
      default: throw new RootfsConfigError(`${where}.type`, `unknown device type ${JSON.stringify(d.type)} (c, b, u or p)`);
    }
    if (d.type !== 'p' && (!Number.isInteger(d.major) || !Number.isInteger(d.minor))) {
      throw new RootfsConfigError(where, 'major and minor are required for a char or block device');
    }
    const perm = d.fileMode === undefined ? 0o666 : d.fileMode & 0o7777;
    return {
      path, parentRel: relativeToRoot(posix.dirname(path)), name: basenameOf(path), mode: ifmt | perm,
      major: d.type === 'p' ? 0 : d.major!, minor: d.type === 'p' ? 0 : d.minor!, uid: d.uid ?? 0, gid: d.gid ?? 0,
    };
  });
  const defaults = DEFAULT_DEVICES
    .filter((d) => !fromSpec.some((s) => s.path === d.path))
    .map((d) => ({ ...d, parentRel: 'dev', name: basenameOf(d.path) }));
  // /dev/ptmx is always the pts/ptmx link (runc skips a ptmx device entry too).
  return [...defaults, ...fromSpec].filter((d) => d.path !== '/dev/ptmx');
}
