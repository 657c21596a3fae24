// Faults: `tsrun create` SIGKILLed at every stage, inits that die on their own, and pid reuse.
// Guarantees:
//   - create killed at any stage: `delete --force ID` leaves no state, mounts, cgroups or processes
//   - while create is stuck the container is never reported running
//   - a container whose init dies on its own is `stopped`, never `running` or `created`
//   - kill/delete never signal a process that merely reuses the init's pid (start time + pidfd)
//   - a state directory lost entirely: the documented manual cleanup (MANUAL_CLEANUP) leaves nothing
// The stages come from TSRUN_TEST_STALL (runtime/process/launch.ts: the parent blocks there).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../support/containers.js';
import { describe, isClean, leftovers, settledLeftovers, sleep, startTsrun } from './leaks.js';
import { processStartTime } from '../../runtime/process/proc.js';
import { killAndReap } from '../../runtime/container/reap.js';
import { linuxSys } from '../../runtime/sys/linux.js';
import type { Spec } from '../../spec/types.js';

let sb: Sandbox;
const fresh = () => {
  sb = new Sandbox();
};
const clean = () => sb.cleanup();

async function assertNothingLeft(what: string) {
  const l = await settledLeftovers(sb);
  assert.ok(isClean(l), `${what}: left behind ${describe(l)}`);
}

function status(id: string): string {
  const r = sb.tsrun(['state', id]);
  return r.code === 0 ? JSON.parse(r.stdout).status : `error: ${r.stderr.trim()}`;
}

const withUserns = (s: Spec) => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

function hookScript(body: string): string {
  const path = join(sb.dir, `hook-${Math.random().toString(36).slice(2, 8)}.sh`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

// ---------------------------------------------------------------------------------------------
const killed = suite('create SIGKILLed at each stage, then delete --force leaves nothing');
killed.before.each(fresh);
killed.after.each(clean);

const STAGES: { stage: string; desc: string; edit?: (s: Spec) => void; needsHook?: boolean }[] = [
  { stage: 'fork', desc: 'right after the fork (before namespaces)' },
  { stage: 'userns', desc: 'with a new user namespace, before its id maps', edit: withUserns },
  { stage: 'pid', desc: 'after namespaces: the init exists, not yet in its cgroup' },
  { stage: 'cgroup', desc: 'the init is in its cgroup, state has its pid' },
  { stage: 'hooks', desc: 'after mounts, before the runtime hooks', needsHook: true },
  { stage: 'ready', desc: 'the init is ready and waits on the exec fifo; no pid file yet' },
];

for (const { stage, desc, edit, needsHook } of STAGES) {
  killed(`${stage}: ${desc}`, async () => {
    const id = sb.id();
    const bundle = sb.bundle(['sleep', '100'], (s) => {
      edit?.(s);
      if (needsHook) s.hooks = { createRuntime: [{ path: hookScript('exit 0') }] };
    });
    const pidFile = join(sb.dir, 'init.pid');
    const create = startTsrun(sb, ['create', '--bundle', bundle, '--pid-file', pidFile, id], { TSRUN_TEST_STALL: stage });
    await create.waitForStderr(`stalled at ${stage}`);
    const before = status(id);
    assert.not.ok(['running', 'created'].includes(before), `while create is stuck at ${stage} the status is ${before}`);
    create.child.kill('SIGKILL');
    assert.is((await create.done).code, 137);
    assert.not.ok(existsSync(pidFile), 'no pid file from a create that did not finish');
    const after = status(id);
    assert.not.ok(['running', 'created'].includes(after), `after create was killed at ${stage} the status is ${after}`);
    const orphaned = leftovers(sb);
    assert.ok(orphaned.stateDirs.includes(id), 'the killed create left its state for delete --force to find');
    if (stage === 'ready') assert.ok(orphaned.processes.length > 0, 'the init waits on the fifo after create died');
    const del = sb.tsrun(['delete', '--force', id]);
    assert.is(del.code, 0, del.stderr);
    await assertNothingLeft(`killed at ${stage}`);
  });
}

killed('during a createRuntime hook (the hook keeps running)', async () => {
  const id = sb.id();
  const marker = join(sb.dir, 'hook-started');
  const bundle = sb.bundle(['sleep', '100'], (s) => {
    s.hooks = { createRuntime: [{ path: hookScript(`touch ${marker}; sleep 1`) }] };
  });
  const create = startTsrun(sb, ['create', '--bundle', bundle, id]);
  for (let i = 0; i < 400 && !existsSync(marker) && create.child.exitCode === null; i++) await sleep(25);
  if (!existsSync(marker)) assert.unreachable(`the hook did not run: ${(await create.done).stderr}`);
  create.child.kill('SIGKILL');
  await create.done;
  assert.is.not(status(id), 'running');
  const del = sb.tsrun(['delete', '--force', id]);
  assert.is(del.code, 0, del.stderr);
  // The hook itself is the user's program in the runtime's namespaces: it ends on its own (1 s).
  const l = await settledLeftovers(sb, 5000);
  assert.ok(isClean(l), `killed during hook: left behind ${describe(l)}`);
});

killed('the init is killed from outside while create runs a hook: create fails clearly, nothing left', async () => {
  const id = sb.id();
  // The hook reads the state (pid of the init) from stdin and kills it.
  const hook = hookScript(`pid=$(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p'); kill -9 "$pid"; sleep 0.2`);
  const r = sb.tsrun(['create', '--bundle', sb.bundle(['sleep', '100'], (s) => {
    s.hooks = { createRuntime: [{ path: hook }] };
  }), id]);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /container init exited before it was ready/);
  assert.not.match(r.stderr, /^tsrun: write: /, 'not a bare EPIPE');
  await assertNothingLeft('init killed during create');
});

killed('create killed with no state.json yet: delete --force still removes the claim', async () => {
  // The earliest window: the id is claimed (mkdir) but nothing else exists.
  const id = sb.id();
  mkdirSync(join(sb.root, id), { recursive: true });
  assert.match(status(id), /still being created/);
  assert.is.not(sb.tsrun(['delete', id]).code, 0, 'without --force a claim in progress is kept');
  const del = sb.tsrun(['delete', '--force', id]);
  assert.is(del.code, 0, del.stderr);
  await assertNothingLeft('bare claim');
});

killed.run();

// ---------------------------------------------------------------------------------------------
const lost = suite('state lost entirely: the documented manual cleanup leaves nothing');
lost.before.each(fresh);
lost.after.each(clean);

/**
 * The README's manual cleanup for a container whose state directory is gone. CG is the config's
 * linux.cgroupsPath (or /tsrun/<id> without one). tsrun makes no mounts in the host's mount
 * namespace, so the cgroup is the only handle left: kill what is in it, then remove it.
 */
export const MANUAL_CLEANUP = `
for d in /sys/fs/cgroup/*"$CG" /sys/fs/cgroup"$CG"; do
  [ -d "$d" ] || continue
  [ -f "$d/freezer.state" ] && echo THAWED > "$d/freezer.state"
  [ -f "$d/cgroup.kill" ] && echo 1 > "$d/cgroup.kill"
  for p in $(cat "$d/cgroup.procs"); do kill -9 "$p"; done
done
sleep 0.2
for d in /sys/fs/cgroup/*"$CG" /sys/fs/cgroup"$CG"; do
  [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} +
done
true`;

lost('running container whose state dir was removed: delete --force is a no-op, the manual cleanup works', async () => {
  const id = sb.id();
  let cgroupsPath = '';
  const bundle = sb.bundle(['sh', '-c', 'sleep 100 & sleep 100'], (s) => {
    cgroupsPath = s.linux!.cgroupsPath!;
  });
  assert.is(sb.tsrun(['run', '--detach', '--bundle', bundle, id]).code, 0);
  rmSync(join(sb.root, id), { recursive: true, force: true });
  assert.match(sb.tsrun(['state', id]).stderr, /does not exist/);
  assert.is(sb.tsrun(['delete', '--force', id]).code, 0);
  const orphaned = leftovers(sb);
  assert.ok(orphaned.processes.length >= 2 && orphaned.cgroups.length > 0, `the container lives on unseen: ${describe(orphaned)}`);
  const r = spawnSync('sh', ['-c', MANUAL_CLEANUP], { env: { ...process.env, CG: cgroupsPath }, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  await assertNothingLeft('manual cleanup');
});

lost.run();

// ---------------------------------------------------------------------------------------------
const dies = suite('an init that dies on its own is stopped, never running');
dies.before.each(fresh);
dies.after.each(clean);

dies('created container whose init is SIGKILLed from outside: stopped, start refused, delete cleans', async () => {
  const id = sb.id();
  assert.is(sb.tsrun(['create', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  const pid = JSON.parse(sb.tsrun(['state', id]).stdout).pid as number;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && processStartTime(pid); i++) await sleep(20);
  const st = JSON.parse(sb.tsrun(['state', id]).stdout);
  assert.is(st.status, 'stopped');
  assert.is(st.pid, 0);
  const start = sb.tsrun(['start', id]);
  assert.is.not(start.code, 0);
  assert.match(start.stderr, /stopped/);
  assert.is(sb.tsrun(['delete', id]).code, 0, 'a stopped container needs no --force');
  await assertNothingLeft('dead created init');
});

dies('running container whose process exits by itself: stopped as soon as it is gone', async () => {
  const id = sb.id();
  const r = sb.tsrun(['run', '--detach', '--bundle', sb.bundle(['sh', '-c', 'sleep 0.3']), id]);
  assert.is(r.code, 0, r.stderr);
  const seen = new Set<string>();
  const pid = JSON.parse(sb.tsrun(['state', id]).stdout).pid as number;
  for (let i = 0; i < 60; i++) {
    const alive = processStartTime(pid) !== undefined;
    const s = status(id);
    seen.add(s);
    if (!alive) assert.is(s, 'stopped', 'process gone but status says otherwise');
    if (s === 'stopped') break;
    await sleep(25);
  }
  assert.is(status(id), 'stopped');
  assert.not.ok(seen.has('created'), `statuses seen: ${[...seen]}`);
  assert.is(sb.tsrun(['delete', id]).code, 0);
  await assertNothingLeft('exited on its own');
});

dies('running container: init SIGKILLed from outside while children live on -> stopped; delete kills the rest', async () => {
  // No PID namespace: the init's children survive it, and only the cgroup still finds them.
  const id = sb.id();
  const bundle = sb.bundle(['sh', '-c', 'sleep 100 & sleep 100'], (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
  });
  assert.is(sb.tsrun(['run', '--detach', '--bundle', bundle, id]).code, 0);
  const pid = JSON.parse(sb.tsrun(['state', id]).stdout).pid as number;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && processStartTime(pid); i++) await sleep(20);
  assert.is(status(id), 'stopped');
  const del = sb.tsrun(['delete', id]);
  assert.is(del.code, 0, del.stderr);
  await assertNothingLeft('orphaned children');
});

dies.run();

// ---------------------------------------------------------------------------------------------
const reuse = suite('pid reuse: a stranger with the init\'s pid is never signalled');
reuse.before.each(fresh);
reuse.after.each(clean);

/** A state.json for `id` whose init is `pid` with the given start time (a hand-made record). */
function fakeState(id: string, pid: number, pidStartTime: string) {
  const dir = join(sb.root, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'state.json'), JSON.stringify({
    ociVersion: '1.3.0', id, pid, pidStartTime, bundle: sb.dir, rootfs: sb.dir, created: new Date().toISOString(), owner: 'root',
    createdDone: true, started: true, cgroupPaths: {}, namespaces: {}, rootless: false, overlay: false, config: { ociVersion: '1.3.0' },
  }));
}

function stranger() {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
  return { child, exited, alive: () => child.exitCode === null && child.signalCode === null };
}

reuse('state, kill, kill --all and delete --force leave a process with another start time alone', async () => {
  const s = stranger();
  try {
    await sleep(50);
    const real = processStartTime(s.child.pid!)!;
    const id = sb.id();
    fakeState(id, s.child.pid!, String(Number(real) - 7)); // same pid, started at another time
    const st = JSON.parse(sb.tsrun(['state', id]).stdout);
    assert.is(st.status, 'stopped');
    assert.is(st.pid, 0);
    for (const args of [['kill', id, 'KILL'], ['kill', '--all', id, 'KILL']]) {
      const r = sb.tsrun(args);
      assert.is.not(r.code, 0, `${args.join(' ')} must refuse`);
      assert.match(r.stderr, /not running/);
    }
    assert.is(sb.tsrun(['delete', '--force', id]).code, 0);
    await sleep(100);
    assert.ok(s.alive(), 'the stranger was signalled');
  } finally {
    s.child.kill('SIGKILL');
  }
});

reuse('control: with the right start time the same record does reach the process', async () => {
  const s = stranger();
  try {
    await sleep(50);
    const id = sb.id();
    fakeState(id, s.child.pid!, processStartTime(s.child.pid!)!);
    assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'running');
    assert.is(sb.tsrun(['kill', id, 'KILL']).code, 0);
    assert.is(await s.exited, 'SIGKILL');
    sb.tsrun(['delete', '--force', id]);
  } finally {
    s.child.kill('SIGKILL');
  }
});

reuse('killAndReap (undoing a failed create) checks the start time it learnt with the pid', async () => {
  const s = stranger();
  s.child.unref(); // reaped by killAndReap below, behind Node's back: its 'exit' never comes
  try {
    await sleep(50);
    const pid = s.child.pid!;
    killAndReap(linuxSys, pid, String(Number(processStartTime(pid)) + 3));
    await sleep(100);
    assert.ok(s.alive(), 'killAndReap signalled a process that only shares the pid');
    killAndReap(linuxSys, pid, '');
    await sleep(50);
    assert.ok(s.alive(), 'an unknown start time must not signal either');
    killAndReap(linuxSys, pid, processStartTime(pid)!); // reaps it too (it is our child): no 'exit' event
    assert.is(processStartTime(pid), undefined, 'killed and reaped with the right start time');
  } finally {
    s.child.kill('SIGKILL');
  }
});

reuse('start on a record whose init pid was reused refuses and does not touch the process', async () => {
  const s = stranger();
  try {
    await sleep(50);
    const id = sb.id();
    fakeState(id, s.child.pid!, '1');
    const rec = JSON.parse(readFileSync(join(sb.root, id, 'state.json'), 'utf8'));
    rec.started = false;
    writeFileSync(join(sb.root, id, 'state.json'), JSON.stringify(rec));
    writeFileSync(join(sb.root, id, 'exec.fifo'), '');
    const r = sb.tsrun(['start', id]);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /stopped/);
    await sleep(50);
    assert.ok(s.alive());
  } finally {
    s.child.kill('SIGKILL');
  }
});

reuse.run();
