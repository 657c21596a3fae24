// tsrun as podman 4.3's OCI runtime (with conmon), on a private podman (own root, runroot, tmpdir,
// containers.conf): run --rm, errors, run -d + exec + stop + rm, run -it / exec -it, memory and pids
// limits enforced, pause/unpause, update, nothing left behind.
// TSRUN_CLIENTS_RUNTIME=/path/to/tsrun-wrapper runs it through another executable named tsrun
// (e.g. one that logs every call).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { IMAGE, PrivatePodman } from './podman-env.js';
import { onTerminal } from './tty.js';
import { hierarchies } from './leftovers.js';

const test = suite('podman (conmon) with tsrun');
const missing = ['podman', 'conmon', 'script'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
const why = process.getuid!() !== 0 ? 'needs root' : missing.length ? `not installed: ${missing.join(', ')}` : '';

const pm = why ? undefined : new PrivatePodman(process.env.TSRUN_CLIENTS_RUNTIME);
const env = pm!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function podmanRun(flags: string[], cmd: string[]) {
  return env.podman(['run', '--cgroup-parent', env.cgroupParent, ...flags, IMAGE, ...cmd]);
}

function inspect(name: string, format: string): string {
  return env.podman(['inspect', '--format', format, name]).stdout.trim();
}

function containerCgroupDir(name: string, controller: string): string {
  const id = inspect(name, '{{.Id}}');
  const h = hierarchies();
  return h.length === 1 ? join(h[0], env.cgroupParent, `libpod-${id}`) : join('/sys/fs/cgroup', controller, env.cgroupParent, `libpod-${id}`);
}

function mustRun(flags: string[], cmd: string[]): void {
  const r = podmanRun(flags, cmd);
  assert.is(r.code, 0, `podman run ${flags.join(' ')}: ${r.stderr}`);
}

test.before(async () => {
  if (why) return;
  try {
    await env.loadImage();
  } catch (e) {
    await env.stop();
    throw e;
  }
});

test.after(async () => {
  if (!why) await env.stop();
});

const it = why ? (name: string) => test.skip(`${name} (${why})`) : test;

it('run --tmpfs (podman adds tmpcopyup): the tmpfs starts with the image\'s files at that path', () => {
  const r = podmanRun(['--rm', '--tmpfs', '/etc'], ['sh', '-c', 'grep -c tmpfs /proc/mounts >/dev/null && cat /etc/motd && touch /etc/new && echo writable']);
  assert.is(r.code, 0, `podman run --tmpfs: ${r.stderr}`);
  assert.match(r.stdout, /writable/);
});

it('run --rm: output and exit code; podman passes --log (runtime_supports_json)', () => {
  const r = podmanRun(['--rm'], ['sh', '-c', 'echo hello from $(cat /etc/motd); ulimit -n; exit 4']);
  assert.is(r.code, 4, `podman run --rm: ${r.stderr}`);
  assert.match(r.stdout, 'hello from tsrun client test image');
  assert.match(r.stdout, /^\d+$/m);
  assert.equal(env.containers(), []);
});

it('a tsrun error reaches the podman user as "OCI runtime error: <runtime>: <tsrun message>"', () => {
  const r = podmanRun(['--rm'], ['/nonexistent-cmd']);
  assert.is(r.code, 127, `podman's code for a missing command: ${r.stderr}`);
  const m = /Error: OCI runtime error: (\S+): (.*)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.is(m![1], env.runtime);
  assert.match(m![2], '/nonexistent-cmd');
  assert.is(r.stderr.trim().split('\n').length, 1, `one line (read from --log, not stderr twice): ${r.stderr}`);
  assert.equal(env.containers(), []);
});

it('run -d, exec (output, exit code), stop (TERM reaches the init), rm', async () => {
  mustRun(['-d', '--name', 'det1'], ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']);
  assert.is(inspect('det1', '{{.State.Status}}'), 'running');
  const e = env.podman(['exec', 'det1', 'sh', '-c', 'echo from-exec; cat /proc/1/cmdline | tr "\\0" " "; exit 3']);
  assert.is(e.code, 3, `podman exec: ${e.stderr}`);
  assert.match(e.stdout, 'from-exec');
  assert.match(e.stdout, 'sh -c trap');
  await sleep(200); // the trap is set once the loop runs
  const s = env.podman(['stop', '--time', '10', 'det1']);
  assert.is(s.code, 0, `podman stop: ${s.stderr}`);
  assert.is(inspect('det1', '{{.State.ExitCode}}'), '7', 'stopped by SIGTERM, not by the SIGKILL after the timeout');
  const rm = env.podman(['rm', 'det1']);
  assert.is(rm.code, 0, `podman rm: ${rm.stderr}`);
  assert.equal(env.containers(), []);
});

it('--memory 64m --pids-limit 20 are set and enforced', () => {
  const limits = ['--rm', '--memory', '64m', '--pids-limit', '20'];
  // busybox sh dies when a fork fails, so the forks happen in a subshell; from then on: builtins only
  const pids = podmanRun(limits, ['sh', '-c', [
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max',
    '(for i in $(seq 1 30); do sleep 5 & done) 2>&1',
    'cd /sys/fs/cgroup/pids 2>/dev/null || cd /sys/fs/cgroup; read cur < pids.current; read events < pids.events; echo "current=$cur events=$events"',
  ].join('; ')]);
  assert.is(pids.code, 0, `podman run: ${pids.stdout}${pids.stderr}`);
  assert.match(pids.stdout, /^67108864$/m);
  assert.match(pids.stdout, /^20$/m);
  assert.match(pids.stdout, "can't fork", 'the 21st process is refused');
  const m = /^current=(\d+) events=max (\d+)$/m.exec(pids.stdout);
  assert.ok(m, pids.stdout);
  assert.ok(Number(m![1]) >= 18 && Number(m![1]) <= 20, `sh + the sleeps that fit (the subshell has exited): ${m![1]}`);
  assert.ok(Number(m![2]) >= 1, 'the pids cgroup counted the refused fork');

  const mem = podmanRun(limits, ['sh', '-c', [
    'dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null && echo small-ok',
    'dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo big=$?',
  ].join('; ')]);
  assert.is(mem.code, 0, `podman run: ${mem.stdout}${mem.stderr}`);
  assert.match(mem.stdout, 'small-ok');
  assert.match(mem.stdout, /big=137/, 'a 200 MB buffer is OOM-killed (memory+swap is 128 MB)');
});

it('pause / unpause', () => {
  mustRun(['-d', '--name', 'pause1'], ['sleep', '1000']);
  try {
    assert.is(env.podman(['pause', 'pause1']).code, 0);
    assert.is(inspect('pause1', '{{.State.Status}}'), 'paused');
    const freezer = hierarchies().length === 1 ? 'cgroup.freeze' : 'freezer.state';
    assert.match(readFileSync(join(containerCgroupDir('pause1', 'freezer'), freezer), 'utf8'), /FROZEN|1/);
    assert.is(env.podman(['unpause', 'pause1']).code, 0);
    assert.is(inspect('pause1', '{{.State.Status}}'), 'running');
    assert.match(readFileSync(join(containerCgroupDir('pause1', 'freezer'), freezer), 'utf8'), /THAWED|0/);
  } finally {
    env.podman(['rm', '--force', '--time', '0', 'pause1']);
  }
});

it('update --memory --cpu-shares changes the live limits', () => {
  mustRun(['-d', '--name', 'upd1', '--memory', '64m'], ['sleep', '1000']);
  try {
    const u = env.podman(['update', '--memory', '96m', '--cpu-shares', '512', 'upd1']);
    assert.is(u.code, 0, `podman update: ${u.stderr}`);
    const r = env.podman(['exec', 'upd1', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/cpu/cpu.shares']);
    assert.is(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n'), ['100663296', '512']);
  } finally {
    env.podman(['rm', '--force', '--time', '0', 'upd1']);
  }
});

it('run -it and exec -it on a terminal (console socket through conmon)', () => {
  const r = onTerminal(env.argv(['run', '--rm', '-it', '--cgroup-parent', env.cgroupParent, IMAGE, 'sh']), 'tty; echo typed-$((6*7))\nexit 5\n', env.environment());
  assert.is(r.code, 5, `podman run -it: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^\/dev\/pts\/\d+$/m);
  assert.match(r.stdout, /^typed-42$/m);

  mustRun(['-d', '--name', 'tty1'], ['sleep', '1000']);
  try {
    const e = onTerminal(env.argv(['exec', '-it', 'tty1', 'sh']), 'tty; echo exec-$((6*7))\nexit 6\n', env.environment());
    assert.is(e.code, 6, `podman exec -it: ${e.stdout}${e.stderr}`);
    assert.match(e.stdout, /^\/dev\/pts\/\d+$/m);
    assert.match(e.stdout, /^exec-42$/m);
  } finally {
    env.podman(['rm', '--force', '--time', '0', 'tty1']);
  }
});

it('nothing is left behind: containers, tsrun state, mounts, cgroups, conmon', async () => {
  assert.equal(await env.leftovers(), []);
});

test.run();
