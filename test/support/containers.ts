// Helpers for tests that run real containers: a private --root, bundles from busybox, and cleanup
// that runs even when a test fails.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, closeSync, openSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBusyboxRootfs } from './busybox-rootfs.js';
import { defaultSpec } from '../../spec/defaults.js';
import type { Spec } from '../../spec/types.js';

export const TOP = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const TSRUN = join(TOP, 'runtime/bin/tsrun');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a command with stdout/stderr going to files, not pipes: a detached container inherits them,
 * and a pipe would keep the caller waiting until the container exits.
 */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions & { extraFds?: number[] } = {}): Result {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-out-'));
  const outFd = openSync(join(dir, 'out'), 'w+');
  const errFd = openSync(join(dir, 'err'), 'w+');
  try {
    const { extraFds = [], ...rest } = opts;
    const r = spawnSync(cmd, args, { timeout: 60_000, env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', outFd, errFd, ...extraFds], ...rest });
    return {
      code: r.status ?? 128 + (r.signal ? 9 : 0),
      stdout: readFileSync(join(dir, 'out'), 'utf8'),
      stderr: readFileSync(join(dir, 'err'), 'utf8'),
    };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

let shared: string | undefined;
/** One busybox rootfs per test process, reused read-only by every bundle (bundles point at it). */
export function sharedRootfs(): string {
  if (!shared) {
    shared = mkdtempSync(join(tmpdir(), 'tsrun-test-rootfs-'));
    chmodSync(shared, 0o755); // reachable from a user namespace whose root is not host root
    const dir = shared;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    makeBusyboxRootfs(join(shared, 'rootfs'));
  }
  return join(shared, 'rootfs');
}

export class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsrun-test-'));
  readonly root = join(this.dir, 'state');
  readonly suffix = Math.random().toString(36).slice(2, 8);
  private ids = new Set<string>();

  id(name = 'c'): string {
    const id = `tsrun-test-${name}-${this.suffix}`;
    this.ids.add(id);
    return id;
  }

  /** A bundle whose config is tsrun's default spec, adjusted for tests, then edited by `edit`. */
  bundle(args: string[], edit: (spec: Spec) => void = () => {}, name = 'bundle'): string {
    const dir = join(this.dir, `${name}-${Math.random().toString(36).slice(2, 8)}`);
    const spec = testSpec(args, sharedRootfs(), this.suffix);
    edit(spec);
    runCmd('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return dir;
  }

  tsrun(args: string[], opts: SpawnSyncOptions & { extraFds?: number[] } = {}): Result {
    return run(TSRUN, ['--root', this.root, ...args], opts);
  }

  /** `tsrun [flags] create`, with the container's stdout and stderr (the init keeps them) appended to `log`. */
  createLogged(id: string, bundle: string, log: string, flags: string[] = []): Result {
    const out = openSync(log, 'a');
    try {
      return this.tsrun([...flags, 'create', '--bundle', bundle, id], { stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
  }

  /** Poll `state` until the container is stopped (or the time is up); returns whether it stopped. */
  waitStopped(id: string, timeoutMs = 4000, runtime: 'tsrun' | 'runc' = 'tsrun'): boolean {
    for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
      if (JSON.parse(this[runtime](['state', id]).stdout).status === 'stopped') return true;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    return false;
  }

  runc(args: string[], opts: SpawnSyncOptions = {}): Result {
    return run('runc', ['--root', join(this.dir, 'runc-state'), ...args], opts);
  }

  /** Delete every container this sandbox made (tsrun and runc), then remove its files. */
  cleanup(): void {
    for (const id of this.ids) {
      if (existsSync(join(this.root, id))) this.tsrun(['delete', '--force', id]);
      if (existsSync(join(this.dir, 'runc-state', id))) this.runc(['delete', '--force', id]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function runCmd(cmd: string, args: string[]): void {
  const r = run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** The default spec with: the shared busybox rootfs, no terminal, a tsrun-test cgroup. */
export function testSpec(args: string[], rootfs: string, suffix: string): Spec {
  const spec = defaultSpec();
  spec.root = { path: rootfs, readonly: true };
  spec.process!.terminal = false;
  spec.process!.args = args;
  spec.hostname = 'tsrun-test';
  spec.linux!.cgroupsPath = `/tsrun-test-${suffix}-${Math.random().toString(36).slice(2, 8)}`;
  return spec;
}

export function mountCount(pattern = /tsrun-test/): number {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => pattern.test(l)).length;
}

export function cgroupDirs(prefix = 'tsrun-test-'): string[] {
  const out: string[] = [];
  for (const ctrl of readdirSync('/sys/fs/cgroup')) {
    try {
      for (const d of readdirSync(join('/sys/fs/cgroup', ctrl))) if (d.startsWith(prefix)) out.push(join(ctrl, d));
    } catch {
      // not a directory
    }
  }
  return out;
}

/** The cgroupsPath a bundle's config asks for. */
export function bundleCgroupPath(bundle: string): string {
  return JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).linux.cgroupsPath;
}

/** Hierarchies (under /sys/fs/cgroup) in which `cgroupPath` exists. */
export function cgroupLeftovers(cgroupPath: string): string[] {
  return readdirSync('/sys/fs/cgroup').filter((ctrl) => existsSync(join('/sys/fs/cgroup', ctrl, cgroupPath)));
}
