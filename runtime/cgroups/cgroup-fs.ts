// The file layer under the cgroup manager. Real: Node's synchronous fs (the manager runs in the
// normal tsrun process, never in a forked child). Test double: an in-memory tree that records writes.
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, writeSync } from 'node:fs';
import { posix } from 'node:path';

export interface CgroupFs {
  /** Whole file as text. Throws Node-style errors ({ code: 'ENOENT' ... }). */
  read(path: string): string;
  /** One write(2) of `value` to an existing file (O_WRONLY|O_TRUNC, never O_CREAT). */
  write(path: string, value: string): void;
  exists(path: string): boolean;
  /** mkdir one level; false when it already existed. */
  mkdir(path: string): boolean;
  rmdir(path: string): void;
  /** Names of the subdirectories (child cgroups) of a directory. */
  listDirs(path: string): string[];
}

function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${syscall} ${path}`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  e.path = path;
  return e;
}

export const nodeCgroupFs: CgroupFs = {
  read: (path) => readFileSync(path, 'utf8'),
  write(path, value) {
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      const buf = Buffer.from(value);
      const n = writeSync(fd, buf, 0, buf.length);
      if (n !== buf.length) throw errnoError('EIO', 'write', path);
    } finally {
      closeSync(fd);
    }
  },
  exists: (path) => existsSync(path),
  mkdir(path) {
    try {
      mkdirSync(path, { mode: 0o755 });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  },
  rmdir: (path) => rmdirSync(path),
  listDirs: (path) => readdirSync(path, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name),
};

export interface RecordedWrite {
  path: string;
  value: string;
}

/**
 * An in-memory cgroup tree for unit tests. Files must exist before they can be written (as in
 * cgroupfs); `failures` make a write/mkdir/rmdir fail with an errno; `onWrite` can play the kernel
 * (e.g. update cgroup.events when cgroup.freeze is written).
 */
export class MemoryCgroupFs implements CgroupFs {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>(['/']);
  readonly writes: RecordedWrite[] = [];
  readonly removed: string[] = [];
  failures: { op: 'write' | 'mkdir' | 'rmdir' | 'read'; path: string; code: string; value?: string; times?: number }[] = [];
  onWrite?: (path: string, value: string, fs: MemoryCgroupFs) => void;
  /** Files a new directory gets, as the kernel gives every new cgroup its interface files. */
  dirTemplate?: (path: string) => Record<string, string>;

  /** Create a directory (and its parents) holding the named files (content '' unless given). */
  populate(dir: string, files: Record<string, string> | string[] = {}): this {
    const parts = dir.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) this.dirs.add('/' + parts.slice(0, i).join('/'));
    const entries = Array.isArray(files) ? files.map((f) => [f, ''] as const) : Object.entries(files);
    for (const [name, content] of entries) this.files.set(posix.join(dir, name), content);
    return this;
  }

  /** Values written to one file, in order. */
  writesTo(path: string): string[] {
    return this.writes.filter((w) => w.path === path).map((w) => w.value);
  }

  private fail(op: 'write' | 'mkdir' | 'rmdir' | 'read', path: string, value?: string): void {
    const i = this.failures.findIndex((f) => f.op === op && f.path === path && (f.value === undefined || f.value === value));
    if (i < 0) return;
    const f = this.failures[i];
    if (f.times !== undefined && --f.times <= 0) this.failures.splice(i, 1);
    throw errnoError(f.code, op, path);
  }

  read(path: string): string {
    this.fail('read', path);
    const v = this.files.get(path);
    if (v === undefined) throw errnoError(this.dirs.has(path) ? 'EISDIR' : 'ENOENT', 'open', path);
    return v;
  }

  write(path: string, value: string): void {
    if (!this.files.has(path)) throw errnoError('ENOENT', 'open', path);
    this.fail('write', path, value);
    this.writes.push({ path, value });
    this.files.set(path, value);
    this.onWrite?.(path, value, this);
  }

  exists(path: string): boolean {
    return this.files.has(path) || this.dirs.has(path);
  }

  mkdir(path: string): boolean {
    this.fail('mkdir', path);
    if (this.dirs.has(path)) return false;
    if (!this.dirs.has(posix.dirname(path))) throw errnoError('ENOENT', 'mkdir', path);
    this.dirs.add(path);
    for (const [name, content] of Object.entries(this.dirTemplate?.(path) ?? {})) this.files.set(posix.join(path, name), content);
    return true;
  }

  rmdir(path: string): void {
    this.fail('rmdir', path);
    if (!this.dirs.has(path)) throw errnoError('ENOENT', 'rmdir', path);
    if (this.listDirs(path).length) throw errnoError('EBUSY', 'rmdir', path);
    this.dirs.delete(path);
    for (const f of [...this.files.keys()]) if (posix.dirname(f) === path) this.files.delete(f);
    this.removed.push(path);
  }

  listDirs(path: string): string[] {
    if (!this.dirs.has(path)) throw errnoError('ENOENT', 'scandir', path);
    const prefix = path === '/' ? '/' : path + '/';
    return [...this.dirs].filter((d) => d !== path && d.startsWith(prefix) && !d.slice(prefix.length).includes('/')).map((d) => d.slice(prefix.length));
  }
}
