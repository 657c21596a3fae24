// The state store: <root>/<id>/{state.json, lock, exec.fifo}. state.json is written atomically
// (temp file, rename), so a reader never sees half of it; commands on one id serialize on an flock
// of <root>/<id>/lock. No fsync (DESIGN.md §3 had one): it only matters across a host crash, after
// which every container the file describes is gone anyway; runc does not sync either, and on a
// disk-backed --root each sync cost 0.3-15 ms (5 per create + start).
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync, writeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Sys } from '../sys/sys.js';
import { LOCK, O } from '../sys/constants.js';
import { ContainerError, ExistsError, NotFoundError } from './errors.js';
import type { Spec } from '../../spec/types.js';

/** What tsrun keeps about a container; the OCI state is derived from it. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  /** Host pid of the container's init; 0 before it exists. */
  pid: number;
  /** Start time of the init (field 22 of /proc/PID/stat), to tell it from a reused pid. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
  /** True once `create` finished; false while it is still creating. */
  createdDone: boolean;
  /** True once `start` handed over to the user process. */
  started: boolean;
  cgroupPaths: Record<string, string>;
  /** /proc/PID/ns/* captured at create, to join for exec and to compare. */
  namespaces: Record<string, string>;
  rootless: boolean;
  /** Set when the rootfs is an overlay that delete must release. */
  overlay: boolean;
  config: Spec;
}

/** state.json exists but cannot be used: not JSON, truncated, or not a tsrun record. */
export class CorruptStateError extends ContainerError {
  constructor(readonly id: string, readonly path: string, why: string) {
    super(`container "${id}": corrupt state file ${path}: ${why} (tsrun delete --force ${id} cleans up what it can find)`);
    this.name = 'CorruptStateError';
  }
}

/** What `delete --force` can still learn from a state file that does not parse (see salvageRecord). */
export interface SalvagedRecord {
  pid?: number;
  pidStartTime?: string;
  cgroupPaths?: Record<string, string>;
  rootless?: boolean;
}

export const ID_PATTERN = /^[\w+\-.]+$/;

export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new ContainerError(`invalid container id "${id}": use letters, digits, and _ + - .`);
  }
}

export class StateStore {
  /** Last recovery copy written per id by this process, to skip rewriting an unchanged one. */
  private recoveryWritten = new Map<string, string>();

  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }
  statePath(id: string): string {
    return join(this.dir(id), 'state.json');
  }
  fifoPath(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }
  /** A small second copy of what `delete --force` needs (pid, start time, cgroups) if state.json is damaged. */
  recoveryPath(id: string): string {
    return join(this.dir(id), 'recovery.json');
  }

  /** Make the container's directory; fails if the id is taken (mkdir is the atomic claim). */
  claim(id: string): string {
    validateId(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ExistsError(id);
      throw e;
    }
    return this.dir(id);
  }

  exists(id: string): boolean {
    validateId(id);
    try {
      return statSync(this.dir(id)).isDirectory();
    } catch {
      return false;
    }
  }

  /** Take the container's lock (blocking). Returns the unlock function. */
  lock(sys: Sys, id: string): () => void {
    validateId(id);
    let fd: number;
    try {
      fd = sys.open(join(this.dir(id), 'lock'), O.RDWR | O.CREAT | O.CLOEXEC, 0o600);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') throw new NotFoundError(id);
      throw e;
    }
    sys.flock(fd, LOCK.EX);
    return () => sys.close(fd);
  }

  read(id: string): ContainerRecord | undefined {
    validateId(id);
    let text: string;
    try {
      text = readFileSync(this.statePath(id), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        if (!this.exists(id)) throw new NotFoundError(id);
        return undefined; // still being created, or create died before writing state
      }
      throw e;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      const why = text.length === 0 ? 'the file is empty' : `not JSON (${(e as Error).message})`;
      throw new CorruptStateError(id, this.statePath(id), why);
    }
    const problem = recordProblem(value, id);
    if (problem) throw new CorruptStateError(id, this.statePath(id), problem);
    return value as ContainerRecord;
  }

  /**
   * Best effort for a state file that does not parse: the recovery copy if it is intact, else the
   * fields `delete --force` needs read out of the state text (they come before the large config, so
   * a truncated file usually still has them).
   */
  salvage(id: string): SalvagedRecord {
    try {
      const copy = JSON.parse(readFileSync(this.recoveryPath(id), 'utf8')) as SalvagedRecord & { id?: string };
      if (copy && copy.id === id && typeof copy.pid === 'number' && typeof copy.pidStartTime === 'string') {
        const cgroupPaths = copy.cgroupPaths && typeof copy.cgroupPaths === 'object' && Object.values(copy.cgroupPaths).every((v) => typeof v === 'string') ? copy.cgroupPaths : undefined;
        return { pid: copy.pid, pidStartTime: copy.pidStartTime, cgroupPaths, rootless: copy.rootless === true };
      }
    } catch {
      // missing or damaged too: read what the state file still has
    }
    let text: string;
    try {
      text = readFileSync(this.statePath(id), 'latin1');
    } catch {
      return {};
    }
    const out: SalvagedRecord = {};
    const pid = /"pid":(\d+)[,}]/.exec(text);
    const start = /"pidStartTime":"(\d+)"/.exec(text);
    if (pid && start) {
      out.pid = Number(pid[1]);
      out.pidStartTime = start[1];
    }
    const paths = /"cgroupPaths":(\{[^{}]*\})/.exec(text);
    if (paths) {
      try {
        const parsed = JSON.parse(paths[1]) as unknown;
        if (parsed && typeof parsed === 'object' && Object.values(parsed).every((v) => typeof v === 'string')) {
          out.cgroupPaths = parsed as Record<string, string>;
        }
      } catch {
        // cut inside the object
      }
    }
    const rootless = /"rootless":(true|false)/.exec(text);
    if (rootless) out.rootless = rootless[1] === 'true';
    return out;
  }

  write(record: ContainerRecord): void {
    writeFileAtomic(this.statePath(record.id), JSON.stringify(record), 0o600);
    this.writeRecovery(record);
  }

  private writeRecovery(record: ContainerRecord): void {
    const { id, pid, pidStartTime, cgroupPaths, rootless } = record;
    const text = JSON.stringify({ id, pid, pidStartTime, cgroupPaths, rootless });
    if (this.recoveryWritten.get(id) === text) return;
    writeFileAtomic(this.recoveryPath(id), text, 0o600);
    this.recoveryWritten.set(id, text);
  }

  remove(id: string): void {
    validateId(id);
    const dir = this.dir(id);
    // The state dir holds files only (state, recovery, lock, fifo): unlink them, without loading
    // Node's recursive remover (~1.5 ms); anything else (a directory) goes the long way.
    const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';
    try {
      for (const name of readdirSync(dir)) {
        try {
          unlinkSync(join(dir, name));
        } catch (e) {
          if (!gone(e)) throw e;
        }
      }
      rmdirSync(dir);
    } catch (e) {
      if (!gone(e)) rmSync(dir, { recursive: true, force: true });
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory() && ID_PATTERN.test(d.name))
        .map((d) => d.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}

/** Why `value` is not a record of container `id`, or undefined if it is one. */
function recordProblem(value: unknown, id: string): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  if (r.id !== id) return `"id" is ${JSON.stringify(r.id)}, not "${id}"`;
  if (typeof r.pid !== 'number' || !Number.isInteger(r.pid) || r.pid < 0) return '"pid" is not a process id';
  if (typeof r.pidStartTime !== 'string') return '"pidStartTime" is missing';
  for (const key of ['cgroupPaths', 'config', 'namespaces'] as const) {
    if (!r[key] || typeof r[key] !== 'object') return `"${key}" is missing`;
  }
  return undefined;
}

/** Write a file atomically (temp + rename), e.g. the pid file go-runc reads. */
export function writeFileAtomic(path: string, data: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
