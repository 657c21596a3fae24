// Load: many full lifecycles in parallel, and many creates racing for one id.
// Guarantees:
//   - 200 create/start/kill/delete cycles over 8 parallel workers: every command succeeds, every
//     state read is the expected one, and afterwards no process, mount, cgroup or state remains;
//     the container process holds only fds 0-2 (no fd of tsrun leaks into it)
//   - tsrun's own fds do not grow: 30 in-process cycles (plus failing creates) leave the fd table as it was
//   - 50 parallel `create` of one id: exactly one succeeds, the others fail with "already exists"
//     and do not disturb the winner
//   - a container cannot be created into a cgroup that already has processes (runc: "not empty")
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../support/containers.js';
import { describe, isClean, leftovers, openFds, settledLeftovers, sleep, tsrunAsync } from './leaks.js';
import { processStartTime } from '../../runtime/process/proc.js';

const CYCLES = Number(process.env.TSRUN_LOAD_CYCLES || 200);
const WORKERS = 8;

let sb: Sandbox;
const t = suite('load');
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

async function waitGone(pid: number, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (processStartTime(pid) !== undefined) {
    if (Date.now() > until) return false;
    await sleep(10);
  }
  return true;
}

t(`${CYCLES} create/start/kill/delete cycles across ${WORKERS} workers: no failure, no wrong state, no leak`, async () => {
  const before = leftovers(sb);
  assert.ok(isClean(before), describe(before));
  const defaultParent = '/sys/fs/cgroup/pids/tsrun';
  const parentBefore = existsSync(defaultParent);
  // No cgroupsPath: each container gets its own /tsrun/<id> (containers must not share a cgroup).
  const bundle = sb.bundle(['sleep', '100'], (s) => {
    delete s.linux!.cgroupsPath;
  });
  const problems: string[] = [];
  let next = 0;
  let done = 0;
  const expect = (cond: boolean, what: string) => {
    if (!cond) problems.push(what);
    return cond;
  };
  async function worker(w: number) {
    while (next < CYCLES && problems.length < 5) {
      const n = next++;
      const id = sb.id(`load${n}`);
      const pidFile = join(sb.dir, `${id}.pid`);
      let r = await tsrunAsync(sb, ['create', '--bundle', bundle, '--pid-file', pidFile, id]);
      if (!expect(r.code === 0, `#${n} create: ${r.stderr}`)) continue;
      const pid = Number(readFileSync(pidFile, 'utf8'));
      const check = n % 4 === w % 4; // every fourth cycle also reads the state through `tsrun state`
      if (check) {
        r = await tsrunAsync(sb, ['state', id]);
        expect(r.code === 0 && JSON.parse(r.stdout).status === 'created' && JSON.parse(r.stdout).pid === pid, `#${n} state after create: ${r.stdout}${r.stderr}`);
      }
      r = await tsrunAsync(sb, ['start', id]);
      expect(r.code === 0, `#${n} start: ${r.stderr}`);
      // `start` returns once execve closed the fifo; the new image's argv may take a moment to appear.
      let cmdline = '';
      for (let i = 0; i < 100 && !cmdline.startsWith('sleep'); i++) {
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          break;
        }
        if (!cmdline.startsWith('sleep')) await sleep(5);
      }
      expect(cmdline === 'sleep\u0000100\u0000', `#${n} running process: ${JSON.stringify(cmdline)}`);
      const fds = openFds(pid).map((l) => l.split(' ')[0]);
      expect(fds.join(',') === '0,1,2', `#${n} container fds: ${openFds(pid).join(', ')}`);
      if (check) {
        r = await tsrunAsync(sb, ['state', id]);
        expect(r.code === 0 && JSON.parse(r.stdout).status === 'running', `#${n} state after start: ${r.stdout}${r.stderr}`);
      }
      r = await tsrunAsync(sb, ['kill', id, 'KILL']);
      expect(r.code === 0, `#${n} kill: ${r.stderr}`);
      expect(await waitGone(pid), `#${n} init ${pid} still alive after kill`);
      if (check) {
        r = await tsrunAsync(sb, ['state', id]);
        expect(r.code === 0 && JSON.parse(r.stdout).status === 'stopped', `#${n} state after kill: ${r.stdout}${r.stderr}`);
      }
      r = await tsrunAsync(sb, ['delete', id]); // no --force: only a stopped container may be deleted so
      expect(r.code === 0, `#${n} delete: ${r.stderr}`);
      done++;
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  assert.equal(problems, [], `${problems.length} problems`);
  assert.is(done, CYCLES);
  const after = await settledLeftovers(sb);
  assert.ok(isClean(after), `after ${CYCLES} cycles: ${describe(after)}`);
  if (!parentBefore) assert.not.ok(existsSync(defaultParent), 'the default parent /tsrun went with the last container');
});

t('tsrun\'s own fd table does not grow over in-process cycles and failing creates', async () => {
  const { linuxSys } = await import('../../runtime/sys/linux.js');
  const { StateStore } = await import('../../runtime/container/store.js');
  const { createContainer } = await import('../../runtime/container/create.js');
  const { startContainer } = await import('../../runtime/container/start.js');
  const { killContainer } = await import('../../runtime/container/kill.js');
  const { deleteContainer } = await import('../../runtime/container/delete.js');
  const store = new StateStore(sb.root);
  const good = sb.bundle(['sleep', '100']);
  const missing = sb.bundle(['/no/such/program']);
  const hookFails = sb.bundle(['true'], (s) => {
    s.hooks = { createRuntime: [{ path: '/bin/false' }] };
  });
  const opts = (id: string, bundle: string) => ({ id, bundle, noPivot: false, preserveFds: 0, systemdCgroup: false });
  const cycle = async (n: number) => {
    const id = sb.id(`fd${n}`);
    const rec = await createContainer(linuxSys, store, opts(id, good));
    await startContainer(linuxSys, store, id);
    killContainer(linuxSys, store, id, 9, false);
    assert.ok(await waitGone(rec.pid), 'killed');
    await deleteContainer(linuxSys, store, id, false);
    for (const [bundle, why] of [[missing, /no\/such\/program/], [hookFails, /createRuntime/]] as const) {
      const bad = sb.id(`fdbad${n}`);
      let err: Error | undefined;
      try {
        await createContainer(linuxSys, store, opts(bad, bundle));
      } catch (e) {
        err = e as Error;
      }
      assert.match(err?.message ?? 'created', why);
    }
  };
  await cycle(0); // warm up: lazy loads (koffi, hooks runner) open what they keep
  const before = openFds();
  for (let n = 1; n <= 30; n++) await cycle(n);
  assert.equal(openFds(), before, 'fds of this process (running tsrun\'s code) before vs after 30 cycles');
  const after = await settledLeftovers(sb);
  assert.ok(isClean(after), describe(after));
});

t('50 parallel creates of one id: exactly one wins, the rest fail cleanly', async () => {
  const id = sb.id('race');
  const bundle = sb.bundle(['sleep', '100']);
  const results = await Promise.all(Array.from({ length: 50 }, () => tsrunAsync(sb, ['create', '--bundle', bundle, id])));
  const winners = results.filter((r) => r.code === 0);
  assert.is(winners.length, 1, results.map((r) => r.stderr).join(''));
  for (const r of results.filter((x) => x.code !== 0)) {
    assert.is(r.code, 1);
    assert.is(r.stderr.trim(), `tsrun: container "${id}" already exists`);
  }
  const st = JSON.parse(sb.tsrun(['state', id]).stdout);
  assert.is(st.status, 'created', 'the losers did not disturb the winner');
  assert.is(sb.tsrun(['start', id]).code, 0);
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'running');
  assert.is(sb.tsrun(['delete', '--force', id]).code, 0);
  const l = await settledLeftovers(sb);
  assert.ok(isClean(l), describe(l));
});

t('a second container asking for an occupied cgroup is refused, and the first one is untouched', async () => {
  const cgroupsPath = `/tsrun-test-${sb.suffix}-shared`;
  const bundle = sb.bundle(['sleep', '100'], (s) => {
    s.linux!.cgroupsPath = cgroupsPath;
  });
  const [a, b] = [sb.id('share-a'), sb.id('share-b')];
  assert.is(sb.tsrun(['run', '--detach', '--bundle', bundle, a]).code, 0);
  const r = sb.tsrun(['create', '--bundle', bundle, b]);
  assert.is(r.code, 1, `joined a cgroup that holds another container: ${r.stderr}`);
  assert.match(r.stderr, /is not empty/);
  assert.match(r.stderr, cgroupsPath);
  assert.is(JSON.parse(sb.tsrun(['state', a]).stdout).status, 'running', 'the failed create did not touch the first container');
  assert.ok(readFileSync(`/sys/fs/cgroup/pids${cgroupsPath}/cgroup.procs`, 'utf8').trim().length > 0, 'its cgroup is still there');
  assert.is(sb.tsrun(['delete', '--force', a]).code, 0);
  const l = await settledLeftovers(sb);
  assert.ok(isClean(l), describe(l));
});

t.run();
