// The benchmark's own world: a temp dir with a busybox rootfs, bundles that point at it, one
// --root per runtime, and cleanup of every container, cgroup and file it made, even on failure.
// Everything it names starts with `tsrun-bench-<suffix>` so cleanup never touches anything else.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, readdirSync, existsSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tsImport } from 'tsx/esm/api';

const CGROUP_ROOT = '/sys/fs/cgroup';

export class BenchSandbox {
  constructor() {
    this.suffix = Math.random().toString(36).slice(2, 8);
    this.prefix = `tsrun-bench-${this.suffix}`;
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    this.rootfs = join(this.dir, 'rootfs');
    this.runtimes = [];
    this.ids = new Set();
    this.n = 0;
  }

  async init() {
    const { makeBusyboxRootfs } = await tsImport('../../support/busybox-rootfs.ts', import.meta.url);
    makeBusyboxRootfs(this.rootfs);
    const probe = join(this.dir, 'spec-probe');
    mkdirSync(probe);
    const r = spawnSync('runc', ['spec', '--bundle', probe], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`runc spec: ${r.stderr.trim()}`);
    this.baseSpec = JSON.parse(readFileSync(join(probe, 'config.json'), 'utf8'));
    // containerd's default spec has no ambient capabilities (and runc only tries them, best
    // effort); without inheritable ones they cannot be raised anyway.
    delete this.baseSpec.process.capabilities?.ambient;
  }

  /** A fresh container id, remembered for cleanup. */
  id(tag) {
    // runtime names such as "tsrun@node24" carry characters container ids may not have
    const id = `${this.prefix}-${tag.replace(/[^\w+.-]/g, '_')}-${++this.n}`;
    this.ids.add(id);
    return id;
  }

  /** A `runc spec` config with terminal off, the given args, and `edit` applied; returns the bundle dir. */
  bundle(name, args, edit = () => {}) {
    const dir = join(this.dir, `bundle-${name}`);
    mkdirSync(dir, { recursive: true });
    const spec = structuredClone(this.baseSpec);
    spec.process.terminal = false;
    spec.process.args = args;
    spec.root.path = this.rootfs;
    edit(spec);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return dir;
  }

  /** A per-runtime state dir (`--root`). */
  stateRoot(name) {
    const dir = join(this.dir, `root-${name}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** A cgroup path (as linux.cgroupsPath) owned by this run. */
  cgroupPath(...parts) {
    return '/' + [`${this.prefix}-${parts[0]}`, ...parts.slice(1)].join('/');
  }

  /** Removes every container this run created, then its cgroups, then its temp dir. */
  cleanup(runtimes) {
    const problems = [];
    for (const rt of runtimes) {
      for (const id of this.ids) {
        if (!existsSync(join(rt.root, id))) continue;
        const r = spawnSync(rt.cmd, [...rt.global, 'delete', '--force', id], { env: rt.env, encoding: 'utf8', timeout: 30_000 });
        if (r.status !== 0 && existsSync(join(rt.root, id))) problems.push(`${rt.name} delete --force ${id}: ${String(r.stderr).trim()}`);
      }
    }
    problems.push(...removeCgroups(this.prefix));
    rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

/** Kills what is left in our cgroups (deepest first) and removes them, in every hierarchy. */
export function removeCgroups(prefix) {
  const problems = [];
  if (!existsSync(CGROUP_ROOT)) return problems;
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    const base = join(CGROUP_ROOT, hierarchy);
    let entries;
    try {
      entries = readdirSync(base).filter((e) => e.startsWith(prefix));
    } catch {
      continue;
    }
    for (const e of entries) {
      for (const dir of subtree(join(base, e)).reverse()) {
        killAll(dir);
        if (!removeDir(dir)) problems.push(`cannot remove cgroup ${dir}`);
      }
    }
  }
  return problems;
}

function subtree(dir) {
  const out = [dir];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    try {
      if (statSync(p).isDirectory()) out.push(...subtree(p));
    } catch {
      // vanished
    }
  }
  return out;
}

function killAll(dir) {
  let pids = [];
  try {
    pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function removeDir(dir) {
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return true;
    } catch (e) {
      if (e.code === 'ENOENT') return true;
      spawnSync('sleep', ['0.02']);
    }
  }
  return false;
}

/** Reads a number from a cgroup v1 memory file; undefined if the cgroup is not there. */
export function memoryCgroupValue(cgroupPath, file) {
  try {
    return Number(readFileSync(join(CGROUP_ROOT, 'memory', cgroupPath, file), 'utf8'));
  } catch {
    return undefined;
  }
}

export function makeMemoryCgroup(cgroupPath) {
  const dir = join(CGROUP_ROOT, 'memory', cgroupPath);
  mkdirSync(dir, { recursive: true });
  return dir;
}
