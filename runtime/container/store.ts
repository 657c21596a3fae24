// The state store: <root>/<id>/{state.json, lock, exec.fifo}. state.json is written atomically
// (temp file, fsync, rename); commands on one id serialize on an flock of <root>/<id>/lock.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync, statSync } from 'node:fs';
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

export const ID_PATTERN = /^[\w+\-.]+$/;

export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new ContainerError(`invalid container id "${id}": use letters, digits, and _ + - .`);
  }
}

export class StateStore {
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
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch (e) {
      throw new ContainerError(`container "${id}": corrupt state file ${this.statePath(id)}: ${(e as Error).message} (tsrun delete --force ${id} removes it)`);
    }
  }

  write(record: ContainerRecord): void {
    const path = this.statePath(record.id);
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(record));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  remove(id: string): void {
    validateId(id);
    rmSync(this.dir(id), { recursive: true, force: true });
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

/** Write a file atomically (temp + rename), e.g. the pid file go-runc reads. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
