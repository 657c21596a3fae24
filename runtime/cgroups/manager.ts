// The cgroup manager the container commands use: create/join the container's cgroup in every
// hierarchy, write limits, freeze, list and signal its processes, read stats, remove it.
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import type { Device, Resources } from '../../spec/types.js';
import type { Sys } from '../sys/sys.js';
import { linuxSys } from '../sys/linux.js';
import { nodeCgroupFs, type CgroupFs } from './cgroup-fs.js';
import { CgroupError, errnoCode, fileError } from './errors.js';
import { detectLayout, modeOfPaths, type CgroupLayout, type LayoutMode } from './layout.js';
import { DEFAULT_PARENT, innerCgroupPath, resolvePaths } from './paths.js';
import { effectiveDeviceRules } from './devices.js';
import { bpfDeviceFilterLoader, type DeviceFilterLoader } from './device-filter.js';
import { setV1 } from './v1.js';
import { setV2 } from './v2.js';
import { freezeV1, freezeV2, freezerDir, freezerState, thawV1, thawV2, type FreezerState } from './freezer.js';
import { parseFlatKeyed, statsV1, statsV2, type Stats } from './stats.js';
import { sleepMs } from './sleep.js';
import type { WriteContext } from './write-context.js';

export interface CgroupManager {
  readonly mode: LayoutMode;
  /** mkdir the cgroup in every hierarchy (parents too); idempotent. */
  create(): void;
  /** Move `pid` into the cgroup everywhere; `sub` is exec's --cgroup: "path" or "ctrl[,ctrl]:path" below it. */
  apply(pid: number, sub?: string): void;
  /** Write limits (at create, and for update). Devices are written only when `resources.devices` is present. */
  set(resources: Resources): void;
  freeze(): void;
  thaw(): void;
  state(): FreezerState;
  /** Every process of the cgroup and its sub-cgroups. */
  pids(): number[];
  /** Signal every process, including those that forked away from the init. */
  killAll(signal: number): void;
  stats(): Stats;
  /** Processes the OOM killer killed in this cgroup so far. */
  oomKillCount(): number;
  /** Poll for new OOM kills; returns a stop function. */
  watchOom(onOom: (kills: number) => void, intervalMs?: number): () => void;
  /** rmdir the cgroup (and sub-cgroups) everywhere; idempotent. */
  destroy(): void;
  /** Hierarchy key ("memory", "name=systemd", "" = unified) -> absolute directory. For state.json. */
  paths(): Record<string, string>;
  /** The host's hierarchies, as detected for a new container (undefined for one loaded from its state). */
  readonly hostLayout?: CgroupLayout;
  /** The cgroup directory still exists. */
  exists(): boolean;
}

export interface ManagerDeps {
  fs?: CgroupFs;
  sys?: Sys;
  deviceLoader?: DeviceFilterLoader;
  /** Where warnings go (ignored kernel-memory settings ...); default: dropped. */
  warn?: (message: string) => void;
  rootless?: boolean;
  /** linux.devices: the nodes the container gets are allowed in the device cgroup. */
  linuxDevices?: Device[];
  /** How killAll signals a process (default process.kill); for tests. */
  kill?: (pid: number, signal: number) => void;
}

export interface CreateManagerOptions extends ManagerDeps {
  id: string;
  cgroupsPath?: string;
  systemd?: boolean;
  resources?: Resources;
  layout?: CgroupLayout;
  /** For tests: whether systemd runs (default: /run/systemd/system exists). */
  systemdRunning?: () => boolean;
}

const SIGKILL = 9;
const PERMISSION_CODES = new Set(['EPERM', 'EACCES', 'EROFS']);

export function createCgroupManager(opts: CreateManagerOptions): CgroupManager {
  if (opts.systemd) {
    const running = opts.systemdRunning ? opts.systemdRunning() : existsSync('/run/systemd/system');
    if (!running) throw new CgroupError('systemd cgroup driver requested but systemd is not running (no /run/systemd/system)');
    throw new CgroupError('systemd cgroup driver requested but tsrun only has the cgroupfs driver; run without --systemd-cgroup');
  }
  const layout = opts.layout ?? detectLayout({ fs: opts.fs });
  const inner = innerCgroupPath(opts.id, opts.cgroupsPath);
  const dirs = resolvePaths(layout, inner);
  if (layout.mode !== 'v2' && !dirs.devices && !opts.rootless) {
    // Without the devices controller a v1 container could open any device node: refuse (runc does).
    throw new CgroupError('cgroup: the v1 devices controller is not mounted; refusing to run a container without device restrictions');
  }
  return new Manager(layout.mode, dirs, { ...opts, explicitPath: !!opts.cgroupsPath, unifiedRoot: layout.unified?.mountpoint, unifiedControllers: layout.unified?.controllers }, layout);
}

/** A manager for a container created earlier, from the paths its state.json kept. */
export function loadCgroupManager(paths: Record<string, string>, deps: ManagerDeps = {}): CgroupManager {
  return new Manager(modeOfPaths(paths), { ...paths }, { ...deps, explicitPath: true });
}

interface Internal extends ManagerDeps {
  explicitPath: boolean;
  unifiedRoot?: string;
  unifiedControllers?: string[];
}

class Manager implements CgroupManager {
  private readonly fs: CgroupFs;
  private readonly ctx: WriteContext;
  private loader?: DeviceFilterLoader;

  constructor(readonly mode: LayoutMode, private readonly dirs: Record<string, string>, private readonly o: Internal, readonly hostLayout?: CgroupLayout) {
    this.fs = o.fs ?? nodeCgroupFs;
    this.ctx = { fs: this.fs, warn: o.warn ?? (() => {}) };
    this.loader = o.deviceLoader;
  }

  paths(): Record<string, string> {
    return { ...this.dirs };
  }

  private v1Paths(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.dirs)) if (k !== '') out[k] = v;
    return out;
  }

  /** rootless without an explicit cgroupsPath: a hierarchy we may not touch is dropped (as runc). */
  private tolerable(e: unknown): boolean {
    return !!this.o.rootless && !this.o.explicitPath && PERMISSION_CODES.has(errnoCode(e) ?? (e as CgroupError)?.code ?? '');
  }

  create(): void {
    const dropped: string[] = [];
    for (const [key, dir] of Object.entries(this.dirs)) {
      try {
        if (key === 'cpuset') this.mkdirCpuset(dir);
        else if (key === '' && this.mode === 'v2') this.mkdirV2(dir);
        else this.mkdirAll(dir);
      } catch (e) {
        if (this.tolerable(e)) {
          dropped.push(`${key || 'unified'} (${errnoCode(e) ?? (e as Error).message})`);
          delete this.dirs[key];
          continue;
        }
        throw e instanceof CgroupError ? e : fileError('mkdir', dir, e);
      }
    }
    if (dropped.length) this.ctx.warn(`cgroup: rootless, running without the hierarchies it may not write: ${dropped.join(', ')}`);
  }

  private mkdirAll(dir: string): string[] {
    for (let attempt = 0; ; attempt++) {
      const missing: string[] = [];
      for (let d = dir; d !== '/' && !this.fs.exists(d); d = posix.dirname(d)) missing.unshift(d);
      try {
        for (const d of missing) this.fs.mkdir(d);
        return missing;
      } catch (e) {
        // ENOENT: the default parent was removed by the delete of its last container meanwhile.
        if (errnoCode(e) === 'ENOENT' && attempt < 3) continue;
        throw fileError('mkdir', missing.find((d) => !this.fs.exists(d)) ?? dir, e);
      }
    }
  }

  /**
   * v1 cpuset: a new cpuset cgroup starts with empty cpus/mems and takes no tasks (ENOSPC) until
   * they are set. Every empty level is filled from its parent, top down, not only the levels made
   * here: a concurrent create may have made a shared parent and not filled it yet.
   */
  private mkdirCpuset(dir: string): void {
    this.mkdirAll(dir);
    const empty: string[] = [];
    for (let d = dir; d !== '/'; d = posix.dirname(d)) {
      const files = ['cpuset.cpus', 'cpuset.mems'].map((f) => this.safeRead(posix.join(d, f)));
      if (files.some((v) => v === undefined) || files.every((v) => v!.trim() !== '')) break; // set, or above the hierarchy
      empty.unshift(d);
    }
    for (const d of empty) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        const mine = this.safeRead(posix.join(d, f));
        if (mine === undefined || mine.trim() !== '') continue;
        const theirs = this.safeRead(posix.join(posix.dirname(d), f));
        if (theirs !== undefined && theirs.trim() !== '') this.write(posix.join(d, f), theirs.trim());
      }
    }
  }

  /** v2: every level above the leaf must delegate the controllers down (cgroup.subtree_control). */
  private mkdirV2(dir: string): void {
    const root = this.o.unifiedRoot;
    const controllers = this.o.unifiedControllers ?? [];
    this.mkdirAll(dir);
    if (!root || !controllers.length || !dir.startsWith(root + '/')) return;
    const levels: string[] = [];
    for (let d = posix.dirname(dir); d.length >= root.length; d = posix.dirname(d)) {
      levels.unshift(d);
      if (d === root) break;
    }
    for (const level of levels) {
      const file = posix.join(level, 'cgroup.subtree_control');
      const enable = controllers.map((c) => `+${c}`).join(' ');
      try {
        this.fs.write(file, enable);
      } catch {
        // One by one: some may be unavailable (rootless, threaded parents); set() names what is missing.
        for (const c of controllers) {
          try {
            this.fs.write(file, `+${c}`);
          } catch {
            // reported by set() when the config needs it
          }
        }
      }
    }
  }

  private safeRead(path: string): string | undefined {
    try {
      return this.fs.read(path);
    } catch {
      return undefined;
    }
  }

  private write(path: string, value: string): void {
    try {
      this.fs.write(path, value);
    } catch (e) {
      throw fileError('write', path, e, value);
    }
  }

  apply(pid: number, sub?: string): void {
    const { controllers, path: subPath } = parseSub(sub);
    for (const [key, dir] of Object.entries(this.dirs)) {
      let target = dir;
      if (subPath && (controllers.length === 0 || controllers.includes(key) || (key === '' && this.mode === 'v2'))) {
        target = posix.join(dir, subPath);
        if (target !== dir && !target.startsWith(dir + '/')) throw new CgroupError(`cgroup: sub-cgroup ${JSON.stringify(sub)} is not below ${dir}`);
      }
      try {
        this.writePid(target, pid);
      } catch (e) {
        if (this.tolerable(e)) {
          this.ctx.warn(`cgroup: cannot join ${target} (${(e as CgroupError).code}); the process stays outside the ${key || 'unified'} hierarchy`);
          continue;
        }
        throw e;
      }
    }
  }

  private writePid(dir: string, pid: number): void {
    const file = posix.join(dir, 'cgroup.procs');
    for (let attempt = 0; ; attempt++) {
      try {
        this.fs.write(file, String(pid));
        return;
      } catch (e) {
        // EINVAL: the task may still be in TASK_NEW (just forked); it settles within milliseconds.
        if (errnoCode(e) === 'EINVAL' && attempt < 5) {
          sleepMs(30);
          continue;
        }
        throw fileError('write', file, e, String(pid));
      }
    }
  }

  set(resources: Resources): void {
    const devices = resources.devices !== undefined ? effectiveDeviceRules(resources.devices, this.o.linuxDevices) : undefined;
    try {
      if (this.mode === 'v2') {
        if (devices && !this.loader) this.loader = bpfDeviceFilterLoader(this.o.sys ?? linuxSys);
        setV2(this.ctx, this.dirs[''], resources, { devices, loader: this.loader });
      } else {
        setV1(this.ctx, this.v1Paths(), resources, { devices });
      }
    } catch (e) {
      // Rootless: device rules are not expected to work; everything else must (as runc).
      if (this.o.rootless && e instanceof CgroupError && e.field?.startsWith('linux.resources.devices') && devices) {
        this.ctx.warn(`${e.message} (ignored: rootless)`);
        this.set({ ...resources, devices: undefined });
        return;
      }
      throw e;
    }
  }

  private freezerDir(): string | undefined {
    return freezerDir(this.mode, this.dirs);
  }

  freeze(): void {
    const dir = this.freezerDir();
    if (!dir) throw new CgroupError('cgroup: cannot freeze: the freezer controller is not available for this container');
    if (this.mode === 'v2') freezeV2(this.fs, dir);
    else freezeV1(this.fs, dir);
  }

  thaw(): void {
    const dir = this.freezerDir();
    if (!dir) return;
    if (this.mode === 'v2') thawV2(this.fs, dir);
    else thawV1(this.fs, dir);
  }

  state(): FreezerState {
    return freezerState(this.fs, this.mode, this.dirs);
  }

  private pidsDir(): string | undefined {
    if (this.mode === 'v2') return this.dirs[''];
    for (const k of ['devices', 'freezer', 'pids', 'memory', 'cpu']) if (this.dirs[k]) return this.dirs[k];
    return Object.values(this.dirs)[0];
  }

  pids(): number[] {
    const dir = this.pidsDir();
    if (!dir) return [];
    const out: number[] = [];
    const walk = (d: string) => {
      let text: string;
      try {
        text = this.fs.read(posix.join(d, 'cgroup.procs'));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENODEV') return;
        throw fileError('read', posix.join(d, 'cgroup.procs'), e);
      }
      for (const line of text.split('\n')) if (line.trim()) out.push(Number(line));
      let subs: string[] = [];
      try {
        subs = this.fs.listDirs(d);
      } catch {
        // removed meanwhile
      }
      for (const s of subs) walk(posix.join(d, s));
    };
    walk(dir);
    return out;
  }

  killAll(signal: number): void {
    if (signal === SIGKILL) {
      const unified = this.dirs[''];
      if (unified && this.fs.exists(posix.join(unified, 'cgroup.kill'))) {
        this.write(posix.join(unified, 'cgroup.kill'), '1');
        if (this.mode === 'v2') return;
        // hybrid: the v1 pass below also catches anything that left the unified cgroup.
      }
    }
    // Freeze first so nothing forks between reading cgroup.procs and signalling.
    let frozen = false;
    if (this.freezerDir()) {
      try {
        this.freeze();
        frozen = true;
      } catch (e) {
        if (this.mode !== 'v2' || !(e instanceof CgroupError)) throw e;
        // v2 without cgroup.freeze (kernel < 5.2): signal without freezing
      }
    }
    try {
      for (const pid of this.pids()) {
        try {
          if (this.o.kill) this.o.kill(pid, signal);
          else process.kill(pid, signal);
        } catch (e) {
          if (errnoCode(e) !== 'ESRCH') throw new CgroupError(`cgroup: kill ${pid} with signal ${signal}: ${errnoCode(e) ?? e}`);
        }
      }
    } finally {
      if (frozen) this.thaw();
    }
  }

  stats(): Stats {
    return this.mode === 'v2' ? statsV2(this.fs, this.dirs['']) : statsV1(this.fs, this.v1Paths());
  }

  oomKillCount(): number {
    const [dir, file] = this.mode === 'v2' ? [this.dirs[''], 'memory.events'] : [this.dirs.memory, 'memory.oom_control'];
    if (!dir) return 0;
    const path = posix.join(dir, file);
    let text: string;
    try {
      text = this.fs.read(path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return 0;
      throw fileError('read', path, e);
    }
    return Number(parseFlatKeyed(text).oom_kill ?? 0n);
  }

  watchOom(onOom: (kills: number) => void, intervalMs = 500): () => void {
    let last = this.oomKillCount();
    const timer = setInterval(() => {
      let now: number;
      try {
        now = this.oomKillCount();
      } catch {
        return; // the cgroup went away; the caller stops on container exit
      }
      if (now > last) onOom(now - last);
      last = now;
    }, intervalMs);
    return () => clearInterval(timer);
  }

  destroy(): void {
    const failed: string[] = [];
    let first: CgroupError | undefined;
    for (const [key, dir] of Object.entries(this.dirs)) {
      try {
        this.removeTree(dir);
        this.removeDefaultParent(dir);
      } catch (e) {
        failed.push(key || 'unified');
        first ??= e instanceof CgroupError ? e : fileError('rmdir', dir, e);
      }
    }
    if (first) throw new CgroupError(`${first.message}${failed.length > 1 ? ` (also failed: ${failed.slice(1).join(', ')})` : ''}`, { code: first.code, path: first.path });
  }

  /** The default parent (/tsrun at a hierarchy's root) goes with its last container. */
  private removeDefaultParent(dir: string): void {
    const parent = posix.dirname(dir);
    if (`/${posix.basename(parent)}` !== DEFAULT_PARENT || !this.isHierarchyRoot(posix.dirname(parent))) return;
    try {
      this.fs.rmdir(parent);
    } catch {
      // EBUSY: other containers are still in it; ENOENT: another delete was first
    }
  }

  /** v1 roots alone have cgroup.sane_behavior; v2 roots alone lack cgroup.type. */
  private isHierarchyRoot(dir: string): boolean {
    if (this.fs.exists(posix.join(dir, 'cgroup.sane_behavior'))) return true;
    return this.fs.exists(posix.join(dir, 'cgroup.controllers')) && !this.fs.exists(posix.join(dir, 'cgroup.type'));
  }

  private removeTree(dir: string): void {
    let subs: string[];
    try {
      subs = this.fs.listDirs(dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw fileError('rmdir', dir, e);
    }
    for (const s of subs) this.removeTree(posix.join(dir, s));
    // EBUSY: the last tasks may still be exiting; give them about a second.
    for (let attempt = 0, delay = 1; ; attempt++, delay *= 2) {
      try {
        this.fs.rmdir(dir);
        return;
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'ENOENT') return;
        if (code === 'EINTR') continue;
        if (code === 'EBUSY' && attempt < 10) {
          sleepMs(delay);
          continue;
        }
        throw fileError('rmdir', dir, e);
      }
    }
  }

  exists(): boolean {
    const dir = this.pidsDir();
    return !!dir && this.fs.exists(dir);
  }
}

function parseSub(sub: string | undefined): { controllers: string[]; path: string } {
  if (!sub) return { controllers: [], path: '' };
  const colon = sub.indexOf(':');
  if (colon < 0) return { controllers: [], path: sub };
  return { controllers: sub.slice(0, colon).split(',').filter(Boolean), path: sub.slice(colon + 1) };
}
