// A private containerd 1.6 for the client tests: its own config, root, state, sockets and opt dir
// under a temp dir, the CRI plugin disabled; `ctr` bound to its socket and a namespace of its own.
// The system's containerd (/run/containerd/containerd.sock) is never used. containerd 1.6 itself
// puts shim sockets in /run/containerd/s (hard-coded) and ctr's default fifo dir is
// /run/containerd/fifo: the fifo dir is moved here, and /run/containerd is removed afterwards if
// this test created it and it is empty.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type Result } from '../support/containers.js';
import { buildClientImage } from './image.js';
import { cgroupsBelow, entries, mountsUnder, processesMentioning, reapProcessesMentioning, removeCgroupTree, unmountUnder } from './leftovers.js';

export const IMAGE = 'docker.io/library/tsrun-test-busybox:latest';
const SYSTEM_RUN_DIR = '/run/containerd';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PrivateContainerd {
  readonly suffix = Math.random().toString(36).slice(2, 8);
  readonly dir = mkdtempSync(join(tmpdir(), 'tsrun-test-ctrd-'));
  readonly socket = join(this.dir, 'containerd.sock');
  readonly namespace = `tsrun-test-${this.suffix}`;
  /** The cgroup parent of every container here (absolute: relative paths land below our own cgroup). */
  readonly cgroupParent = `/tsrun-test-${this.suffix}`;
  readonly fifoDir = join(this.dir, 'fifo');
  readonly logFile = join(this.dir, 'containerd.log');
  private daemon?: ChildProcess;
  private madeRunDir = !existsSync(SYSTEM_RUN_DIR);

  /** Where the shim keeps a runtime's state (`--runc-root`): runtime name -> dir. */
  runtimeRoot(name: string): string {
    return join(this.dir, `${name}-root`);
  }

  /** The per-namespace dir the shim passes as `--root` (containers' state dirs live in it). */
  runtimeStateDir(name: string): string {
    return join(this.runtimeRoot(name), this.namespace);
  }

  async start(): Promise<void> {
    const root = join(this.dir, 'root');
    const state = join(this.dir, 'state');
    for (const d of [root, state, this.fifoDir, join(this.dir, 'opt')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(this.dir, 'config.toml'), [
      'version = 2',
      `root = "${root}"`,
      `state = "${state}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${this.socket}"`,
      '[ttrpc]',
      `  address = "${this.socket}.ttrpc"`,
      '[debug]',
      `  address = "${this.socket}.debug"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(this.dir, 'opt')}"`,
      '',
    ].join('\n'));
    const log = openSync(this.logFile, 'a');
    try {
      this.daemon = spawn('containerd', ['--config', join(this.dir, 'config.toml')], { stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log);
    }
    const daemon = this.daemon;
    process.on('exit', () => {
      if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL'); // the test died before stop()
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (this.daemon.exitCode !== null) throw new Error(`containerd exited (${this.daemon.exitCode}):\n${this.log()}`);
      if (existsSync(this.socket) && this.ctr(['version']).code === 0) return;
      if (Date.now() > deadline) throw new Error(`containerd did not start in 20 s:\n${this.log()}`);
      await sleep(100);
    }
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '';
    }
  }

  ctr(args: string[], opts: Parameters<typeof run>[2] = {}): Result {
    return run('ctr', ['--address', this.socket, '--namespace', this.namespace, ...args], opts);
  }

  /** `ctr run` arguments that put a container on `runtime` with its state and cgroup in our dirs. */
  runtimeArgs(binary: string, name: string, id: string): string[] {
    return ['--runc-binary', binary, '--runc-root', this.runtimeRoot(name), '--cgroup', `${this.cgroupParent}/${id}`, '--fifo-dir', this.fifoDir];
  }

  async importImage(): Promise<void> {
    const archive = join(this.dir, 'image.tar');
    await buildClientImage(archive);
    const r = this.ctr(['images', 'import', '--base-name', IMAGE.replace(/:latest$/, ''), archive]);
    if (r.code !== 0) throw new Error(`ctr images import: ${r.stderr}`);
  }

  /** Tasks and containers of our namespace (ids). */
  tasks(): string[] {
    return this.ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean);
  }

  containers(): string[] {
    return this.ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean);
  }

  /** What is left on the machine by the containers of this daemon; [] when nothing. */
  async leftovers(runtimes: string[]): Promise<string[]> {
    const shims = `-address ${this.socket}`;
    for (let i = 0; i < 30 && processesMentioning(shims).length; i++) await sleep(100); // shims exit after `task delete`
    const out: string[] = [];
    for (const t of this.tasks()) out.push(`task ${t}`);
    for (const c of this.containers()) out.push(`container ${c}`);
    for (const name of runtimes) for (const e of entries(this.runtimeStateDir(name))) out.push(`${name} state ${e}`);
    for (const m of mountsUnder(this.dir)) out.push(`mount ${m}`);
    for (const c of cgroupsBelow(this.cgroupParent)) out.push(`cgroup ${c}`);
    for (const p of processesMentioning(shims)) out.push(`process ${p.pid}: ${p.cmdline}`);
    for (const e of entries(this.fifoDir)) out.push(`fifo ${e}`);
    return out;
  }

  /** Remove every task and container, stop the daemon, remove what is ours. Never throws. */
  async stop(): Promise<void> {
    try {
      if (this.daemon && this.daemon.exitCode === null) {
        for (const t of this.tasks()) this.ctr(['task', 'delete', '--force', t]);
        for (const c of this.containers()) this.ctr(['containers', 'delete', c]);
        this.daemon.kill('SIGTERM');
        const deadline = Date.now() + 10_000;
        while (this.daemon.exitCode === null && this.daemon.signalCode === null && Date.now() < deadline) await sleep(50);
        if (this.daemon.exitCode === null && this.daemon.signalCode === null) this.daemon.kill('SIGKILL');
      }
      await reapProcessesMentioning(`-address ${this.socket}`, 2000); // shims of ours, if any
      unmountUnder(this.dir);
      removeCgroupTree(this.cgroupParent);
      rmSync(this.dir, { recursive: true, force: true });
      if (this.madeRunDir) {
        for (const d of ['s', 'fifo', 'runc', '']) {
          try {
            rmdirSync(join(SYSTEM_RUN_DIR, d));
          } catch {
            // not empty, or not there: not ours to remove
          }
        }
      }
    } catch (e) {
      process.stderr.write(`containerd cleanup: ${(e as Error).message}\n`);
    }
  }
}
