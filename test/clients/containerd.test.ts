// tsrun as containerd 1.6's runc (`ctr run --runc-binary tsrun`, through containerd-shim-runc-v2),
// on a private containerd daemon: run --rm, run -d + task exec/ps/pause/resume/kill/delete, errors
// as the shim reports them, terminals, nothing left behind; and `ctr run --rm IMAGE true` timed
// against runc.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TSRUN } from '../support/containers.js';
import { IMAGE, PrivateContainerd } from './containerd-env.js';
import { onTerminal } from './tty.js';
import { hierarchies } from './leftovers.js';

const test = suite('containerd (ctr + runc-v2 shim) with tsrun');
const missing = ['containerd', 'ctr', 'containerd-shim-runc-v2', 'script'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
const why = process.getuid!() !== 0 ? 'needs root' : missing.length ? `not installed: ${missing.join(', ')}` : '';

const env = new PrivateContainerd();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `ctr run` with tsrun, its state and cgroup in the test's dirs. */
function ctrRun(flags: string[], id: string, cmd: string[], opts: { binary?: string; runtime?: string } = {}) {
  return env.ctr(['run', ...flags, ...env.runtimeArgs(opts.binary ?? TSRUN, opts.runtime ?? 'tsrun', id), IMAGE, id, ...cmd]);
}

function taskStatus(id: string): string | undefined {
  const line = env.ctr(['task', 'ls']).stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
  return line?.trim().split(/\s+/)[2];
}

async function waitStatus(id: string, want: string, ms = 10_000): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  let status = taskStatus(id);
  while (status !== want && Date.now() < deadline) {
    await sleep(50);
    status = taskStatus(id);
  }
  return status;
}

function taskPids(id: string): number[] {
  const r = env.ctr(['task', 'ps', id]);
  assert.is(r.code, 0, `ctr task ps: ${r.stderr}`);
  return r.stdout.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => n > 0);
}

async function waitPids(id: string, atLeast: number): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let pids = taskPids(id);
  while (pids.length < atLeast && Date.now() < deadline) {
    await sleep(50);
    pids = taskPids(id);
  }
  return pids;
}

/** `ctr task delete` + `containers delete`; the exit code the task had (ctr warns when non-zero). */
function deleteTask(id: string, force = false): number {
  const r = env.ctr(['task', 'delete', ...(force ? ['--force'] : []), id]);
  assert.is(r.code, 0, `ctr task delete ${id}: ${r.stderr}`);
  const c = env.ctr(['containers', 'delete', id]);
  assert.is(c.code, 0, `ctr containers delete ${id}: ${c.stderr}`);
  const m = /exit with non-zero exit code (\d+)/.exec(r.stderr);
  return m ? Number(m[1]) : 0;
}

function startDetached(id: string, cmd: string[]): void {
  const r = ctrRun(['-d'], id, cmd);
  assert.is(r.code, 0, `ctr run -d ${id}: ${r.stderr}\n${env.log()}`);
}

function cgroupOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8');
}

function freezerState(id: string): string {
  const h = hierarchies();
  const file = h.length === 1 ? join(h[0], env.cgroupParent, id, 'cgroup.freeze') : join('/sys/fs/cgroup/freezer', env.cgroupParent, id, 'freezer.state');
  return readFileSync(file, 'utf8').trim();
}

test.before(async () => {
  if (why) return;
  try {
    await env.start();
    await env.importImage();
  } catch (e) {
    await env.stop();
    throw e;
  }
});

test.after(async () => {
  if (!why) await env.stop();
});

const it = why ? (name: string) => test.skip(`${name} (${why})`) : test;

it('run --rm: output, exit code, environment of the image', () => {
  const r = ctrRun(['--rm'], 'rm1', ['sh', '-c', 'echo hello from $(cat /etc/motd); echo PATH=$PATH; test -e /etc/issue || echo whiteout-ok; exit 4']);
  assert.is(r.code, 4, `ctr run --rm: ${r.stderr}`);
  assert.match(r.stdout, 'hello from tsrun client test image');
  assert.match(r.stdout, 'PATH=/bin');
  assert.match(r.stdout, 'whiteout-ok');
  assert.equal(env.containers(), [], 'run --rm removed the container');
});

it('a tsrun error reaches the ctr user as "OCI runtime create failed: <tsrun message>"', () => {
  const r = ctrRun(['--rm'], 'bad1', ['/nonexistent-cmd']);
  assert.is.not(r.code, 0);
  const m = /OCI runtime create failed: (.*): unknown/.exec(r.stderr);
  assert.ok(m, `shim message: ${r.stderr}`);
  assert.match(m![1], '/nonexistent-cmd');
  assert.not.match(m![1], /runc|unable to retrieve OCI runtime error/, 'the message is tsrun\'s own, read from log.json');
  assert.equal(env.containers(), [], 'nothing left after a failed create');
  assert.equal(existsSync(join(env.runtimeStateDir('tsrun'), 'bad1')), false);
});

it('run -d, task exec (output, exit code, error), task ps', async () => {
  const id = 'det1';
  startDetached(id, ['sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
  try {
    assert.is(await waitStatus(id, 'RUNNING'), 'RUNNING');
    const e = env.ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo from-exec; cat /proc/1/cmdline | tr "\\0" " "; exit 3']);
    assert.is(e.code, 3, `ctr task exec: ${e.stderr}`);
    assert.match(e.stdout, 'from-exec');
    assert.match(e.stdout, 'sh -c sleep 1000', 'exec sees the container\'s pid namespace');
    const bad = env.ctr(['task', 'exec', '--exec-id', 'e2', id, '/nonexistent-exec']);
    assert.is.not(bad.code, 0);
    assert.match(bad.stderr, /OCI runtime exec failed: .*\/nonexistent-exec/);
    const pids = await waitPids(id, 3);
    assert.ok(pids.length >= 3, `task ps: ${pids}`);
    for (const pid of pids) assert.match(cgroupOf(pid), `${env.cgroupParent}/${id}`, `pid ${pid} is in the container's cgroup`);
  } finally {
    env.ctr(['task', 'kill', '-s', 'KILL', id]);
    await waitStatus(id, 'STOPPED');
  }
  assert.is(deleteTask(id), 137);
});

it('pause / resume', async () => {
  const id = 'pause1';
  startDetached(id, ['sleep', '1000']);
  try {
    let r = env.ctr(['task', 'pause', id]);
    assert.is(r.code, 0, r.stderr);
    assert.is(taskStatus(id), 'PAUSED');
    assert.match(freezerState(id), /FROZEN|^1$/);
    r = env.ctr(['task', 'resume', id]);
    assert.is(r.code, 0, r.stderr);
    assert.is(taskStatus(id), 'RUNNING');
    assert.match(freezerState(id), /THAWED|^0$/);
  } finally {
    env.ctr(['task', 'kill', '-s', 'KILL', id]);
    await waitStatus(id, 'STOPPED');
  }
  deleteTask(id);
});

it('kill (TERM, default signal) reaches the init; its exit code comes back', async () => {
  const id = 'term1';
  startDetached(id, ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done']);
  await waitPids(id, 2); // the trap is set once the loop runs
  const r = env.ctr(['task', 'kill', id]);
  assert.is(r.code, 0, r.stderr);
  assert.is(await waitStatus(id, 'STOPPED'), 'STOPPED');
  assert.is(deleteTask(id), 7);
});

it('kill -s KILL', async () => {
  const id = 'kill1';
  startDetached(id, ['sleep', '1000']);
  assert.is(env.ctr(['task', 'kill', '-s', 'KILL', id]).code, 0);
  assert.is(await waitStatus(id, 'STOPPED'), 'STOPPED');
  assert.is(deleteTask(id), 137);
});

it('kill --all signals every process of the container', async () => {
  const id = 'all1';
  startDetached(id, ['sh', '-c', 'trap "" TERM; sleep 1000 & sleep 1000 & wait']);
  const pids = await waitPids(id, 3);
  assert.ok(pids.length >= 3, `task ps: ${pids}`);
  assert.is(env.ctr(['task', 'kill', '--all', '-s', 'KILL', id]).code, 0);
  assert.is(await waitStatus(id, 'STOPPED'), 'STOPPED');
  for (let i = 0; i < 50 && pids.some((p) => existsSync(`/proc/${p}`)); i++) await sleep(20);
  assert.equal(pids.filter((p) => existsSync(`/proc/${p}`)), [], 'every process is gone');
  assert.is(deleteTask(id), 137);
});

it('task delete --force of a running task', async () => {
  const id = 'force1';
  startDetached(id, ['sh', '-c', 'sleep 1000 & wait']);
  const pids = await waitPids(id, 2);
  const r = env.ctr(['task', 'delete', '--force', id]);
  assert.is(r.code, 0, r.stderr);
  assert.is(env.ctr(['containers', 'delete', id]).code, 0);
  assert.equal(pids.filter((p) => existsSync(`/proc/${p}`)), []);
  assert.equal(existsSync(join(env.runtimeStateDir('tsrun'), id)), false, 'tsrun state removed');
});

it('run --tty (console socket through the shim) and task exec --tty', async () => {
  const ctrBase = ['ctr', '--address', env.socket, '--namespace', env.namespace];
  const run = onTerminal([...ctrBase, 'run', '--rm', '-t', ...env.runtimeArgs(TSRUN, 'tsrun', 'tty1'), IMAGE, 'tty1', 'sh'], 'tty; echo typed-$((6*7))\nexit 5\n');
  assert.is(run.code, 5, `ctr run -t: ${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /^\/dev\/pts\/\d+$/m);
  assert.match(run.stdout, /^typed-42$/m);

  startDetached('tty2', ['sleep', '1000']);
  try {
    const ex = onTerminal([...ctrBase, 'task', 'exec', '-t', '--exec-id', 'x1', 'tty2', 'sh'], 'tty; echo exec-$((6*7))\nexit 6\n');
    assert.is(ex.code, 6, `ctr task exec -t: ${ex.stdout}${ex.stderr}`);
    assert.match(ex.stdout, /^\/dev\/pts\/\d+$/m);
    assert.match(ex.stdout, /^exec-42$/m);
  } finally {
    env.ctr(['task', 'kill', '-s', 'KILL', 'tty2']);
    await waitStatus('tty2', 'STOPPED');
  }
  deleteTask('tty2');
});

it('nothing is left behind: tasks, containers, tsrun state, mounts, cgroups, shims, fifos', async () => {
  assert.equal(await env.leftovers(['tsrun']), []);
});

it('wall time of `ctr run --rm IMAGE true`: tsrun vs runc (median of 10)', async () => {
  const haveRunc = spawnSync('sh', ['-c', 'command -v runc']).status === 0;
  const runtimes = haveRunc ? [['tsrun', TSRUN], ['runc', 'runc']] : [['tsrun', TSRUN]];
  const times: Record<string, number[]> = {};
  for (let i = 0; i < 10; i++) {
    for (const [name, binary] of runtimes) {
      const t0 = process.hrtime.bigint();
      const r = ctrRun(['--rm'], `bench-${name}-${i}`, ['true'], { binary, runtime: name });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.is(r.code, 0, `${name}: ${r.stderr}`);
      (times[name] ??= []).push(ms);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const line = runtimes.map(([name]) => `${name} ${median(times[name]).toFixed(0)} ms`).join(', ');
  const ratio = haveRunc ? ` (${(median(times.tsrun) / median(times.runc)).toFixed(2)}x)` : '';
  console.log(`ctr run --rm IMAGE true, median of 10: ${line}${ratio}`);
  assert.equal(await env.leftovers(runtimes.map(([name]) => name)), []);
});

test.run();
