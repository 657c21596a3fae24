// The cgroup manager on this machine's real hybrid hierarchy (v1 controllers + unified at
// /sys/fs/cgroup/unified). Every cgroup is /tsrun/tsrun-test-<random> and is removed in finally.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createCgroupManager, loadCgroupManager, statsEventJson, type CgroupManager } from '../../runtime/cgroups/index.js';

const isHybrid = existsSync('/sys/fs/cgroup/unified/cgroup.procs') && existsSync('/sys/fs/cgroup/memory/cgroup.procs');

function newId(): string {
  return `tsrun-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

const children: ChildProcess[] = [];
function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(c);
  return c;
}

async function cleanup(m: CgroupManager | undefined): Promise<void> {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (!m) return;
  for (let i = 0; i < 50 && m.pids().length; i++) await new Promise((r) => setTimeout(r, 20));
  try {
    m.thaw();
  } catch {
    // already gone
  }
  m.destroy();
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
}

function line(c: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const on = (d: Buffer) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        c.stdout!.off('data', on);
        resolve(buf.slice(0, i));
      }
    };
    c.stdout!.on('data', on);
  });
}

const procState = (pid: number) => /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
const read = (p: string) => readFileSync(p, 'utf8').trim();

test('create + apply: the process is in the cgroup of every hierarchy, including the unified one', async () => {
  if (!isHybrid) return console.log('skipped: not a hybrid host');
  const id = newId();
  const m = createCgroupManager({ id });
  try {
    assert.is(m.mode, 'hybrid');
    m.create();
    const sleeper = start('sleep', ['100']);
    m.apply(sleeper.pid!);
    const cg = read(`/proc/${sleeper.pid}/cgroup`);
    for (const ctrl of ['memory', 'cpu', 'pids', 'freezer', 'devices', 'name=systemd']) assert.match(cg, new RegExp(`:${ctrl}:/tsrun/${id}$`, 'm'), ctrl);
    assert.match(cg, new RegExp(`^0::/tsrun/${id}$`, 'm'), 'unified');
    assert.equal(m.pids(), [sleeper.pid]);
    assert.equal(loadCgroupManager(m.paths()).pids(), [sleeper.pid], 'a manager from the saved paths sees the same');
  } finally {
    await cleanup(m);
  }
});

test('set memory/pids/cpu/cpuset/devices and read them back from the files', async () => {
  if (!isHybrid) return;
  const m = createCgroupManager({ id: newId() });
  try {
    m.create();
    const sleeper = start('sleep', ['100']);
    m.apply(sleeper.pid!);
    m.set({
      memory: { limit: 64 * 1024 * 1024, swap: 64 * 1024 * 1024, reservation: 32 * 1024 * 1024, swappiness: 10 },
      pids: { limit: 20 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      blockIO: { weight: 300 },
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 4, minor: 64, access: 'rw' }],
    });
    const p = m.paths();
    assert.is(read(`${p.memory}/memory.limit_in_bytes`), String(64 * 1024 * 1024));
    assert.is(read(`${p.memory}/memory.memsw.limit_in_bytes`), String(64 * 1024 * 1024));
    assert.is(read(`${p.memory}/memory.soft_limit_in_bytes`), String(32 * 1024 * 1024));
    assert.is(read(`${p.memory}/memory.swappiness`), '10');
    assert.is(read(`${p.pids}/pids.max`), '20');
    assert.is(read(`${p.cpu}/cpu.shares`), '512');
    assert.is(read(`${p.cpu}/cpu.cfs_quota_us`), '50000');
    assert.is(read(`${p.cpuset}/cpuset.cpus`), '0');
    assert.match(read(`${p.blkio}/blkio.bfq.weight`), /(^|default )300$/, 'BFQ weight on this host');
    const devices = read(`${p.devices}/devices.list`).split('\n');
    assert.ok(devices.includes('c 4:64 rw'), devices.join(','));
    assert.ok(devices.includes('c 1:3 rwm'));
    assert.not.ok(devices.includes('a *:* rwm'), 'deny-all first');
    // update-style: lower the pids limit, unlimit the memory
    m.set({ pids: { limit: -1 }, memory: { limit: -1 } });
    assert.is(read(`${p.pids}/pids.max`), 'max');
    assert.is(read(`${p.memory}/memory.limit_in_bytes`), '9223372036854771712');
    // a value the kernel refuses names the file and the field
    assert.throws(() => m.set({ cpu: { cpus: '4096' } }), /cgroup: write 4096 to .*cpuset\.cpus: E\w+ \(linux\.resources\.cpu\.cpus\)/);
  } finally {
    await cleanup(m);
  }
});

test('freeze / thaw: the task stops (freezer.state FROZEN, task in D), then runs again', async () => {
  if (!isHybrid) return;
  const m = createCgroupManager({ id: newId() });
  try {
    m.create();
    const sleeper = start('sleep', ['100']);
    m.apply(sleeper.pid!);
    m.freeze();
    assert.is(m.state(), 'frozen');
    assert.is(read(`${m.paths().freezer}/freezer.state`), 'FROZEN');
    assert.is(procState(sleeper.pid!), 'D', 'v1-frozen tasks sleep uninterruptibly');
    m.thaw();
    assert.is(m.state(), 'thawed');
    assert.is(procState(sleeper.pid!), 'S');
  } finally {
    await cleanup(m);
  }
});

test('killAll catches a grandchild that double-forked away (SIGTERM: freeze, signal, thaw)', async () => {
  if (!isHybrid) return;
  const m = createCgroupManager({ id: newId() });
  try {
    m.create();
    const sh = start('sh', ['-c', 'read go; ( sleep 300 & echo $! ); exec sleep 200']);
    m.apply(sh.pid!);
    sh.stdin!.write('go\n');
    const grandchild = Number(await line(sh));
    await new Promise((r) => setTimeout(r, 50));
    assert.is(read(`/proc/${grandchild}/cgroup`).includes(m.paths().memory.replace('/sys/fs/cgroup/memory', '')), true);
    assert.ok(Number(read(`/proc/${grandchild}/stat`).split(' ')[3]) !== sh.pid, 'reparented away from the shell');
    assert.equal(m.pids().sort(), [sh.pid!, grandchild].sort());
    m.killAll(15);
    assert.equal(await exited(sh), { code: null, signal: 'SIGTERM' });
    for (let i = 0; i < 100 && existsSync(`/proc/${grandchild}`) && procState(grandchild) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!existsSync(`/proc/${grandchild}`) || procState(grandchild) === 'Z', 'grandchild is gone');
    assert.is(m.state(), 'thawed');
  } finally {
    await cleanup(m);
  }
});

test('killAll(9) in hybrid uses cgroup.kill of the unified cgroup; stats parse; destroy leaves nothing', async () => {
  if (!isHybrid) return;
  const id = newId();
  const m = createCgroupManager({ id });
  let paths: Record<string, string> = {};
  try {
    m.create();
    paths = m.paths();
    const sleeper = start('sh', ['-c', 'read go; head -c 1000000 /dev/zero > /dev/null; exec sleep 100']);
    m.apply(sleeper.pid!);
    m.set({ memory: { limit: 128 * 1024 * 1024 }, pids: { limit: 50 } });
    sleeper.stdin!.write('go\n');
    await new Promise((r) => setTimeout(r, 100));
    const s = m.stats();
    assert.is(s.pids.current, 1n);
    assert.is(s.pids.limit, 50n);
    assert.is(s.memory.usage.limit, 128n * 1024n * 1024n);
    assert.ok(s.cpu.usage.total > 0n, 'cpuacct counted the child');
    const json = JSON.parse(statsEventJson(id, s));
    assert.is(json.data.pids.limit, 50);
    assert.is(json.data.memory.usage.limit, 134217728);
    m.killAll(9);
    assert.equal(await exited(sleeper), { code: null, signal: 'SIGKILL' });
    m.destroy();
    for (const d of Object.values(paths)) assert.not.ok(existsSync(d), d);
    m.destroy();
  } finally {
    await cleanup(m);
    for (const d of Object.values(paths)) assert.not.ok(existsSync(d), d);
  }
});

test.run();
