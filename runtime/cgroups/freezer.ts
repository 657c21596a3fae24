// Freezing: v1 freezer.state (FREEZING until every task stops) and v2 cgroup.freeze, confirmed by
// "frozen 1" in cgroup.events.
import { posix } from 'node:path';
import type { CgroupFs } from './cgroup-fs.js';
import { CgroupError, errnoCode, fileError } from './errors.js';
import { sleepMs } from './sleep.js';
import type { LayoutMode } from './layout.js';

export type FreezerState = 'frozen' | 'thawed';

function write(fs: CgroupFs, path: string, value: string): void {
  try {
    fs.write(path, value);
  } catch (e) {
    throw fileError('write', path, e, value);
  }
}

function read(fs: CgroupFs, path: string): string {
  try {
    return fs.read(path);
  } catch (e) {
    throw fileError('read', path, e);
  }
}

export function freezeV1(fs: CgroupFs, dir: string): void {
  const file = posix.join(dir, 'freezer.state');
  try {
    // A task stuck in a vfork or an uninterruptible sleep keeps the cgroup FREEZING; thawing now
    // and then lets it move on (runc does the same).
    for (let i = 0; i < 1000; i++) {
      if (i % 50 === 49) {
        write(fs, file, 'THAWED');
        sleepMs(10);
      }
      write(fs, file, 'FROZEN');
      if (i % 25 === 24) sleepMs(1);
      const state = read(fs, file).trim();
      if (state === 'FROZEN') return;
      if (state !== 'FREEZING') throw new CgroupError(`cgroup: unexpected freezer state ${state} in ${file} while freezing`, { path: file });
    }
    throw new CgroupError(`cgroup: ${dir} is still FREEZING after 1000 tries`, { path: file });
  } catch (e) {
    try {
      fs.write(file, 'THAWED');
    } catch {
      // best effort: report the first error
    }
    throw e;
  }
}

export function thawV1(fs: CgroupFs, dir: string): void {
  write(fs, posix.join(dir, 'freezer.state'), 'THAWED');
}

export function stateV1(fs: CgroupFs, dir: string): FreezerState {
  const file = posix.join(dir, 'freezer.state');
  for (let i = 0; ; i++) {
    let state: string;
    try {
      state = fs.read(file).trim();
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENODEV') return 'thawed';
      throw fileError('read', file, e);
    }
    if (state === 'THAWED') return 'thawed';
    if (state === 'FROZEN') {
      // Frozen because a parent is: the container itself was not paused.
      try {
        return fs.read(posix.join(dir, 'freezer.self_freezing')).trim() === '0' ? 'thawed' : 'frozen';
      } catch {
        return 'frozen';
      }
    }
    if (state !== 'FREEZING' || i > 5000) throw new CgroupError(`cgroup: unexpected freezer state ${state} in ${file}`, { path: file });
    sleepMs(1);
  }
}

export function freezeV2(fs: CgroupFs, dir: string): void {
  const file = posix.join(dir, 'cgroup.freeze');
  if (!fs.exists(file)) throw new CgroupError(`cgroup: cannot freeze ${dir}: no cgroup.freeze (kernel older than 5.2?)`, { path: file });
  write(fs, file, '1');
  if (waitFrozenV2(fs, dir)) return;
  try {
    fs.write(file, '0');
  } catch {
    // best effort
  }
  throw new CgroupError(`cgroup: ${dir} did not report "frozen 1" in cgroup.events within 10 s`, { path: file });
}

export function thawV2(fs: CgroupFs, dir: string): void {
  const file = posix.join(dir, 'cgroup.freeze');
  if (!fs.exists(file)) return; // nothing can be frozen without it
  write(fs, file, '0');
}

function eventsFrozen(fs: CgroupFs, dir: string): boolean {
  const events = read(fs, posix.join(dir, 'cgroup.events'));
  return /^frozen 1$/m.test(events);
}

function waitFrozenV2(fs: CgroupFs, dir: string): boolean {
  for (let i = 0; i < 1000; i++) {
    if (eventsFrozen(fs, dir)) return true;
    sleepMs(10);
  }
  return false;
}

export function stateV2(fs: CgroupFs, dir: string): FreezerState {
  let value: string;
  try {
    value = fs.read(posix.join(dir, 'cgroup.freeze')).trim();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENODEV') return 'thawed';
    throw fileError('read', posix.join(dir, 'cgroup.freeze'), e);
  }
  if (value === '0') return 'thawed';
  // Asked to freeze: report frozen once the kernel says every task is.
  return waitFrozenV2(fs, dir) ? 'frozen' : 'thawed';
}

/** The freezer hierarchy's directory among a cgroup's paths (v2: the unified one). */
export function freezerDir(mode: LayoutMode, dirs: Record<string, string>): string | undefined {
  return mode === 'v2' ? dirs[''] : dirs.freezer;
}

export function freezerState(fs: CgroupFs, mode: LayoutMode, dirs: Record<string, string>): FreezerState {
  const dir = freezerDir(mode, dirs);
  if (!dir) return 'thawed';
  return mode === 'v2' ? stateV2(fs, dir) : stateV1(fs, dir);
}
