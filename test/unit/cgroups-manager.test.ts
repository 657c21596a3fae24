import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { posix } from 'node:path';
import { MemoryCgroupFs } from '../../runtime/cgroups/cgroup-fs.js';
import { createCgroupManager, loadCgroupManager, CgroupError } from '../../runtime/cgroups/index.js';
import type { CgroupLayout } from '../../runtime/cgroups/layout.js';

const V1_CTRLS = ['cpuset', 'devices', 'memory', 'cpu', 'freezer', 'pids'];

function hybridFs() {
  const fs = new MemoryCgroupFs();
  const layout: CgroupLayout = { mode: 'hybrid', v1: {}, unified: { mountpoint: '/cg/unified', root: '/', controllers: [] }, own: { '': '/' } };
  for (const c of V1_CTRLS) {
    layout.v1[c] = { mountpoint: `/cg/${c}`, root: '/' };
    layout.own[c] = '/';
    fs.populate(`/cg/${c}`, { 'cgroup.procs': '', ...(c === 'cpuset' ? { 'cpuset.cpus': '0-3\n', 'cpuset.mems': '0\n' } : {}) });
  }
  fs.populate('/cg/unified', { 'cgroup.procs': '' });
  // the kernel gives each new cgroup its files
  fs.dirTemplate = (dir) => {
    const ctrl = dir.split('/')[2];
    const files: Record<string, string> = { 'cgroup.procs': '' };
    if (ctrl === 'cpuset') Object.assign(files, { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' });
    if (ctrl === 'freezer') Object.assign(files, { 'freezer.state': 'THAWED\n', 'freezer.self_freezing': '0\n' });
    if (ctrl === 'pids') files['pids.max'] = 'max';
    if (ctrl === 'unified') Object.assign(files, { 'cgroup.kill': '', 'cgroup.freeze': '0\n', 'cgroup.events': 'populated 0\nfrozen 0\n' });
    return files;
  };
  return { fs, layout };
}

test('hybrid: create makes the cgroup in every hierarchy, cpuset parents get cpus/mems, idempotent; paths() for state.json', () => {
  const { fs, layout } = hybridFs();
  const m = createCgroupManager({ id: 'c1', layout, fs });
  m.create();
  m.create();
  const p = m.paths();
  assert.equal(Object.keys(p).sort(), ['', 'cpu', 'cpuset', 'devices', 'freezer', 'memory', 'pids']);
  assert.is(p.memory, '/cg/memory/tsrun/c1');
  assert.is(p[''], '/cg/unified/tsrun/c1');
  for (const d of Object.values(p)) assert.ok(fs.dirs.has(d), d);
  assert.equal(fs.writesTo('/cg/cpuset/tsrun/cpuset.cpus'), ['0-3']);
  assert.equal(fs.writesTo('/cg/cpuset/tsrun/c1/cpuset.cpus'), ['0-3']);
  assert.equal(fs.writesTo('/cg/cpuset/tsrun/c1/cpuset.mems'), ['0']);
  assert.is(m.mode, 'hybrid');
  assert.is(loadCgroupManager(p, { fs }).mode, 'hybrid');
  assert.is(loadCgroupManager({ '': '/x' }, { fs }).mode, 'v2');
  assert.is(loadCgroupManager({ memory: '/x' }, { fs }).mode, 'v1');
});

test('cpuset: a parent another create made but has not filled yet is filled too, top down (else ENOSPC on join)', () => {
  const { fs, layout } = hybridFs();
  fs.populate('/cg/cpuset/shared', { 'cgroup.procs': '', 'cpuset.cpus': '\n', 'cpuset.mems': '\n' }); // made, not yet filled
  const m = createCgroupManager({ id: 'c1', cgroupsPath: '/shared/c1', layout, fs });
  m.create();
  assert.equal(fs.writesTo('/cg/cpuset/shared/cpuset.cpus'), ['0-3']);
  assert.equal(fs.writesTo('/cg/cpuset/shared/cpuset.mems'), ['0']);
  assert.equal(fs.writesTo('/cg/cpuset/shared/c1/cpuset.cpus'), ['0-3']);
  const before = fs.writes.length;
  createCgroupManager({ id: 'c2', cgroupsPath: '/shared/c2', layout, fs }).create();
  assert.equal(fs.writes.slice(before).filter((w) => w.path.startsWith('/cg/cpuset/shared/cpuset')), [], 'a filled parent is left alone');
});

test('apply writes the pid everywhere (retrying EINVAL for a task still being born); sub-cgroups stay below', () => {
  const { fs, layout } = hybridFs();
  const m = createCgroupManager({ id: 'c1', layout, fs });
  m.create();
  fs.failures.push({ op: 'write', path: '/cg/memory/tsrun/c1/cgroup.procs', code: 'EINVAL', times: 1 });
  m.apply(4242);
  for (const d of Object.values(m.paths())) assert.equal(fs.writesTo(`${d}/cgroup.procs`), ['4242'], d);
  fs.populate('/cg/memory/tsrun/c1/sub', { 'cgroup.procs': '' });
  m.apply(77, 'memory:sub');
  assert.equal(fs.writesTo('/cg/memory/tsrun/c1/sub/cgroup.procs'), ['77']);
  assert.equal(fs.writesTo('/cg/pids/tsrun/c1/cgroup.procs'), ['4242', '77']);
  assert.throws(() => m.apply(1, '../../escape'), /is not below/);
  fs.failures.push({ op: 'write', path: '/cg/pids/tsrun/c1/cgroup.procs', code: 'ESRCH' });
  assert.throws(() => m.apply(99), (e: Error) => e instanceof CgroupError && e.message === 'cgroup: write 99 to /cg/pids/tsrun/c1/cgroup.procs: ESRCH');
});

test('v1 freezer: FREEZING is polled until FROZEN; state reads self_freezing; thaw', () => {
  const { fs, layout } = hybridFs();
  const m = createCgroupManager({ id: 'c1', layout, fs });
  m.create();
  let reads = 0;
  fs.onWrite = (path, value, f) => {
    if (path.endsWith('freezer.state') && value === 'FROZEN') {
      f.files.set(path, ++reads < 3 ? 'FREEZING\n' : 'FROZEN\n');
      f.files.set(posix.join(posix.dirname(path), 'freezer.self_freezing'), '1\n');
    }
    if (path.endsWith('freezer.state') && value === 'THAWED') f.files.set(posix.join(posix.dirname(path), 'freezer.self_freezing'), '0\n');
  };
  m.freeze();
  assert.equal(fs.writesTo('/cg/freezer/tsrun/c1/freezer.state'), ['FROZEN', 'FROZEN', 'FROZEN']);
  assert.is(m.state(), 'frozen');
  m.thaw();
  fs.files.set('/cg/freezer/tsrun/c1/freezer.state', 'THAWED\n');
  assert.is(m.state(), 'thawed');
  // frozen only because a parent is
  fs.files.set('/cg/freezer/tsrun/c1/freezer.state', 'FROZEN\n');
  assert.is(m.state(), 'thawed');
});

test('v1 killAll: freeze, signal every pid of the cgroup and its sub-cgroups, thaw; ESRCH ignored', () => {
  const { fs, layout } = hybridFs();
  const sent: string[] = [];
  const m = createCgroupManager({ id: 'c1', layout, fs, kill: (pid, sig) => {
    sent.push(`${pid}:${sig}:${fs.files.get('/cg/freezer/tsrun/c1/freezer.state')?.trim()}`);
    if (pid === 12) throw Object.assign(new Error('gone'), { code: 'ESRCH' });
  } });
  m.create();
  fs.onWrite = (path, value, f) => {
    if (path.endsWith('freezer.state')) f.files.set(path, value === 'FROZEN' ? 'FROZEN\n' : 'THAWED\n');
  };
  fs.files.set('/cg/devices/tsrun/c1/cgroup.procs', '10\n11\n');
  fs.populate('/cg/devices/tsrun/c1/nested', { 'cgroup.procs': '12\n' });
  m.killAll(15);
  assert.equal(sent, ['10:15:FROZEN', '11:15:FROZEN', '12:15:FROZEN']);
  assert.is(fs.files.get('/cg/freezer/tsrun/c1/freezer.state'), 'THAWED\n');
  assert.equal(m.pids(), [10, 11, 12]);
  // SIGKILL in hybrid: cgroup.kill in the unified hierarchy, then the v1 pass
  sent.length = 0;
  m.killAll(9);
  assert.equal(fs.writesTo('/cg/unified/tsrun/c1/cgroup.kill'), ['1']);
  assert.is(sent.length, 3);
});

test('v2: create delegates controllers down (subtree_control) but not in the leaf; freeze via cgroup.freeze and cgroup.events; killAll(9) via cgroup.kill', () => {
  const fs = new MemoryCgroupFs().populate('/sys/fs/cgroup', { 'cgroup.subtree_control': '', 'cgroup.controllers': 'cpu memory pids' });
  fs.dirTemplate = () => ({ 'cgroup.procs': '', 'cgroup.subtree_control': '', 'cgroup.freeze': '0\n', 'cgroup.events': 'populated 1\nfrozen 0\n', 'cgroup.kill': '' });
  const layout: CgroupLayout = { mode: 'v2', v1: {}, unified: { mountpoint: '/sys/fs/cgroup', root: '/', controllers: ['cpu', 'memory', 'pids'] }, own: { '': '/user.slice' } };
  const m = createCgroupManager({ id: 'c2', layout, fs, kill: () => assert.unreachable('cgroup.kill is used') });
  m.create();
  assert.equal(m.paths(), { '': '/sys/fs/cgroup/tsrun/c2' });
  assert.equal(fs.writesTo('/sys/fs/cgroup/cgroup.subtree_control'), ['+cpu +memory +pids']);
  assert.equal(fs.writesTo('/sys/fs/cgroup/tsrun/cgroup.subtree_control'), ['+cpu +memory +pids']);
  assert.equal(fs.writesTo('/sys/fs/cgroup/tsrun/c2/cgroup.subtree_control'), []);
  fs.onWrite = (path, value, f) => {
    if (path.endsWith('cgroup.freeze')) f.files.set(posix.join(posix.dirname(path), 'cgroup.events'), `populated 1\nfrozen ${value}\n`);
  };
  m.freeze();
  assert.is(m.state(), 'frozen');
  m.thaw();
  assert.is(m.state(), 'thawed');
  m.killAll(9);
  assert.equal(fs.writesTo('/sys/fs/cgroup/tsrun/c2/cgroup.kill'), ['1']);
});

test('destroy: sub-cgroups first, EBUSY retried, already-gone tolerated, idempotent; errors name the directory', () => {
  const { fs, layout } = hybridFs();
  const m = createCgroupManager({ id: 'c1', layout, fs });
  m.create();
  fs.populate('/cg/memory/tsrun/c1/child', {});
  fs.failures.push({ op: 'rmdir', path: '/cg/pids/tsrun/c1', code: 'EBUSY', times: 2 });
  m.destroy();
  assert.ok(fs.removed.indexOf('/cg/memory/tsrun/c1/child') < fs.removed.indexOf('/cg/memory/tsrun/c1'));
  for (const d of Object.values(m.paths())) assert.not.ok(fs.dirs.has(d), d);
  assert.ok(fs.dirs.has('/cg/memory/tsrun'), 'the parent stays');
  assert.not.ok(m.exists());
  m.destroy();
  m.create();
  fs.failures.push({ op: 'rmdir', path: '/cg/devices/tsrun/c1', code: 'EBUSY' });
  assert.throws(() => m.destroy(), /cgroup: rmdir \/cg\/devices\/tsrun\/c1: EBUSY/);
});

test('rootless without a cgroupsPath: hierarchies we may not create are dropped, with a warning', () => {
  const { fs, layout } = hybridFs();
  fs.failures.push({ op: 'mkdir', path: '/cg/cpu/tsrun', code: 'EACCES' }, { op: 'mkdir', path: '/cg/memory/tsrun', code: 'EROFS' });
  const warnings: string[] = [];
  const m = createCgroupManager({ id: 'c1', layout, fs, rootless: true, warn: (w) => warnings.push(w) });
  m.create();
  assert.not.ok('cpu' in m.paths());
  assert.not.ok('memory' in m.paths());
  assert.equal(warnings, ['cgroup: rootless, running without the hierarchies it may not write: memory (EROFS), cpu (EACCES)']);
  const strict = createCgroupManager({ id: 'c3', layout, fs, rootless: true, cgroupsPath: '/mine/c3' });
  fs.failures.push({ op: 'mkdir', path: '/cg/cpu/mine', code: 'EACCES' });
  assert.throws(() => strict.create(), /cgroup: mkdir \/cg\/cpu\/mine: EACCES/);
});

test('the default parent /tsrun goes with its last container, at a hierarchy root only', () => {
  const { fs, layout } = hybridFs();
  for (const c of V1_CTRLS) fs.populate(`/cg/${c}`, { 'cgroup.sane_behavior': '0\n' });
  fs.populate('/cg/unified', { 'cgroup.controllers': '' });
  const a = createCgroupManager({ id: 'a', layout, fs });
  const b = createCgroupManager({ id: 'b', layout, fs });
  a.create();
  b.create();
  a.destroy();
  assert.ok(fs.exists('/cg/memory/tsrun'), 'kept while b is in it');
  b.destroy();
  assert.not.ok(fs.exists('/cg/memory/tsrun'), 'removed with the last container');
  assert.not.ok(fs.exists('/cg/unified/tsrun'));
  // an explicit path below a "tsrun" that is not at a root keeps its parents
  const nested = createCgroupManager({ id: 'n', layout, fs, cgroupsPath: '/mine/tsrun/n' });
  nested.create();
  nested.destroy();
  assert.ok(fs.exists('/cg/memory/mine/tsrun'));
  // a create racing the removal re-makes the parent
  const c = createCgroupManager({ id: 'c', layout, fs });
  fs.failures.push({ op: 'mkdir', path: '/cg/memory/tsrun/c', code: 'ENOENT', times: 1 });
  c.create();
  assert.ok(fs.exists('/cg/memory/tsrun/c'));
});

test('set on hybrid writes v1 files; oomKillCount reads memory.oom_control', () => {
  const { fs, layout } = hybridFs();
  const m = createCgroupManager({ id: 'c1', layout, fs });
  m.create();
  m.set({ pids: { limit: 5 } });
  assert.equal(fs.writesTo('/cg/pids/tsrun/c1/pids.max'), ['5']);
  assert.is(m.oomKillCount(), 0);
  fs.files.set('/cg/memory/tsrun/c1/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
  assert.is(m.oomKillCount(), 2);
  assert.throws(() => m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }), /hugetlb cgroup controller is not available/);
});

test.run();
