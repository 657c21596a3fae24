// A private podman 4.3 for the client tests: its own --root/--runroot/--tmpdir, storage.conf and
// containers.conf (CONTAINERS_CONF) under a temp dir, file locks (not the shared
// /dev/shm/libpod_lock), no network. The settings tsrun needs are in `containersConf` (and in
// README-sections.md).
// tsrun keeps these containers' state in its default root, /run/tsrun: `--runtime-flag root=DIR`
// cannot move it, because the `podman container cleanup` that conmon runs when a container exits
// calls the runtime without podman's runtime flags (its `delete --force` would look in /run/tsrun).
// Our containers are known by id from podman's own event log, and only those are checked.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, TSRUN, type Result } from '../support/containers.js';
import { buildClientImage } from './image.js';
import { cgroupsBelow, mountsUnder, processesMentioning, reapProcessesMentioning, removeCgroupTree, unmountUnder } from './leftovers.js';

export const IMAGE = 'localhost/tsrun-test-busybox:latest';

/** The hard limit of `resource` (as /proc/self/limits names it) for this process, capped at `cap`. */
export function hardLimit(resource: string, cap = 1048576): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(resource));
  const hard = line?.slice(resource.length).trim().split(/\s+/)[1];
  return !hard || hard === 'unlimited' ? cap : Math.min(cap, Number(hard));
}

/** containers.conf for podman + tsrun. `runtime` is tsrun's path; `dir` holds the events log. */
export function containersConf(runtime: string, dir: string): string {
  const nofile = hardLimit('Max open files');
  // podman 4.3 sets its own RLIMIT_NPROC to 32768 at start, and conmon and the runtime inherit it
  const nproc = hardLimit('Max processes', 32768);
  return [
    '[containers]',
    // podman asks for nofile/nproc = 1048576 by default; raising a hard limit needs CAP_SYS_RESOURCE.
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
    'netns = "none"',
    'log_driver = "k8s-file"',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${join(dir, 'events.log')}"`,
    'lock_type = "file"',
    // podman passes --log/--log-format=json only to the runtimes named here, and reads errors from it.
    'runtime_supports_json = ["tsrun"]',
    '[engine.runtimes]',
    `tsrun = ["${runtime}"]`,
    '',
  ].join('\n');
}

export class PrivatePodman {
  readonly suffix = Math.random().toString(36).slice(2, 8);
  readonly dir = mkdtempSync(join(tmpdir(), 'tsrun-test-podman-'));
  readonly cgroupParent = `/tsrun-test-${this.suffix}`;
  /** tsrun's default --root (see above). */
  readonly tsrunRoot = '/run/tsrun';
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly runtime = TSRUN) {
    for (const d of ['root', 'runroot', 'tmp']) mkdirSync(join(this.dir, d), { recursive: true });
    writeFileSync(join(this.dir, 'containers.conf'), containersConf(runtime, this.dir));
    writeFileSync(join(this.dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${join(this.dir, 'root')}"\nrunroot = "${join(this.dir, 'runroot')}"\n`);
    this.env = { ...process.env, CONTAINERS_CONF: join(this.dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(this.dir, 'storage.conf') };
    delete this.env.NODE_OPTIONS;
    delete this.env.CONTAINER_HOST;
  }

  /** The podman command line (global flags) for this sandbox. */
  argv(args: string[]): string[] {
    return [
      'podman', '--root', join(this.dir, 'root'), '--runroot', join(this.dir, 'runroot'), '--tmpdir', join(this.dir, 'tmp'),
      '--runtime', this.runtime, ...args,
    ];
  }

  environment(): NodeJS.ProcessEnv {
    return this.env;
  }

  podman(args: string[], opts: Parameters<typeof run>[2] = {}): Result {
    const [cmd, ...rest] = this.argv(args);
    return run(cmd, rest, { env: this.env, ...opts });
  }

  async loadImage(): Promise<void> {
    const archive = join(this.dir, 'image.tar');
    await buildClientImage(archive);
    // our own trust policy, so the test does not depend on /etc/containers/policy.json
    const policy = join(this.dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const r = this.podman(['load', '--signature-policy', policy, '-i', archive]);
    if (r.code !== 0) throw new Error(`podman load: ${r.stderr}`);
    // The archive's ref.name is the bare tag "latest", which podman loads as localhost/latest:latest.
    const loaded = /Loaded image(?:\(s\))?: (\S+)/.exec(r.stdout + r.stderr)?.[1];
    if (!loaded) throw new Error(`podman load: no image name in: ${r.stdout}`);
    const t = this.podman(['tag', loaded, IMAGE]);
    if (t.code !== 0) throw new Error(`podman tag: ${t.stderr}`);
  }

  /** Ids of every container this podman created (its file event log). */
  containerIds(): string[] {
    let text = '';
    try {
      text = readFileSync(join(this.dir, 'events.log'), 'utf8');
    } catch {
      return [];
    }
    const ids = new Set<string>();
    for (const line of text.split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { Type?: string; Status?: string; ID?: string };
      if (e.Type === 'container' && e.Status === 'create' && e.ID) ids.add(e.ID);
    }
    return [...ids];
  }

  containers(): string[] {
    return this.podman(['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n').filter(Boolean);
  }

  /** What podman's containers left on the machine; [] when nothing. */
  async leftovers(): Promise<string[]> {
    // conmon and the `podman container cleanup` it starts outlive `podman rm` by a moment
    for (let i = 0; i < 50 && processesMentioning(this.dir).length; i++) await new Promise((r) => setTimeout(r, 100));
    const out: string[] = [];
    for (const c of this.containers()) out.push(`container ${c}`);
    const ids = this.containerIds();
    if (ids.length === 0) out.push('no container ids in the event log: nothing was checked');
    for (const id of ids) if (existsSync(join(this.tsrunRoot, id))) out.push(`tsrun state ${join(this.tsrunRoot, id)}`);
    // containers/storage keeps its overlay home bind-mounted on itself; container rootfs mounts are not ok
    for (const m of mountsUnder(this.dir)) if (m !== join(this.dir, 'root', 'overlay')) out.push(`mount ${m}`);
    // podman's cgroupfs manager puts every conmon in <parent>/conmon, and leaves that cgroup
    for (const c of cgroupsBelow(this.cgroupParent, ['conmon'])) out.push(`cgroup ${c}`);
    for (const p of processesMentioning(this.dir)) out.push(`process ${p.pid}: ${p.cmdline}`);
    return out;
  }

  /** Remove every container and everything of ours. Never throws. */
  async stop(): Promise<void> {
    try {
      this.podman(['rm', '--all', '--force', '--time', '0']);
      await reapProcessesMentioning(this.dir, 5000);
      for (const id of this.containerIds()) {
        if (existsSync(join(this.tsrunRoot, id))) run(this.runtime, ['delete', '--force', id]);
      }
      unmountUnder(this.dir);
      removeCgroupTree(this.cgroupParent);
      rmSync(this.dir, { recursive: true, force: true });
    } catch (e) {
      process.stderr.write(`podman cleanup: ${(e as Error).message}\n`);
    }
  }
}
