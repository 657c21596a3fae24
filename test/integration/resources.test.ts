// Cgroups through real containers: limits enforced, pause/resume, ps, events, update, kill --all.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, bundleCgroupPath, cgroupLeftovers } from '../support/containers.js';

const t = suite('resources');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const state = (id: string) => JSON.parse(sb.tsrun(['state', id]).stdout);

function detached(script: string, edit?: Parameters<Sandbox['bundle']>[1]): string {
  const id = sb.id();
  const r = sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sh', '-c', script], edit), id]);
  assert.is(r.code, 0, r.stderr);
  return id;
}

function cgroupFile(id: string, ctrl: string, file: string): string {
  const rec = JSON.parse(readFileSync(join(sb.root, id, 'state.json'), 'utf8'));
  return readFileSync(join(rec.cgroupPaths[ctrl], file), 'utf8').trim();
}

t('an 8 MiB memory limit: the container starts and runs a shell; going past it is OOM-killed (137)', () => {
  const ok = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'echo alive'], (s) => {
    s.linux!.resources = { ...s.linux!.resources, memory: { limit: 8 * 1024 * 1024, swap: 8 * 1024 * 1024 } };
  }), sb.id('small')]);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.stdout, 'alive\n');
  const oom = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'x=$(head -c 40000000 /dev/zero | tr "\\0" a); echo ${#x}'], (s) => {
    s.linux!.resources = { ...s.linux!.resources, memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 } };
  }), sb.id('oom')]);
  assert.is(oom.code, 137, `${oom.stdout} ${oom.stderr}`);
});

t('the init is in every cgroup of the container when `create` returns, and its setup charges the container less than runc\'s init (~2.5 MB)', () => {
  const id = sb.id();
  assert.is(sb.tsrun(['create', '--bundle', sb.bundle(['true'], (s) => {
    s.linux!.resources = { ...s.linux!.resources, memory: { limit: 64 * 1024 * 1024 } };
  }), id]).code, 0);
  const rec = JSON.parse(readFileSync(join(sb.root, id, 'state.json'), 'utf8'));
  const inCgroups = readFileSync(join(rec.cgroupPaths.memory ?? rec.cgroupPaths[''], 'cgroup.procs'), 'utf8');
  assert.ok(inCgroups.split('\n').includes(String(rec.pid)), 'the init is in the memory cgroup');
  for (const [key, dir] of Object.entries(rec.cgroupPaths as Record<string, string>)) {
    assert.ok(readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(rec.pid)), `the init is in the ${key || 'unified'} cgroup`);
  }
  // v1 memory: the peak charge since the cgroup was made. The init is a fork of Node: pages it copies
  // on write after joining count. It joins while it sets up, so an 8 MiB limit leaves room to spare.
  if (rec.cgroupPaths.memory) {
    const peak = Number(readFileSync(join(rec.cgroupPaths.memory, 'memory.max_usage_in_bytes'), 'utf8'));
    assert.ok(peak < 2 * 1024 * 1024, `charged ${peak} bytes during create`);
  }
});

t("an exec'd process joins every cgroup of the container too; so does the init of a container with a user namespace (tsrun writes cgroup.procs there)", () => {
  const inEveryCgroup = (id: string, pid: number) => {
    const rec = JSON.parse(readFileSync(join(sb.root, id, 'state.json'), 'utf8'));
    for (const [key, dir] of Object.entries(rec.cgroupPaths as Record<string, string>)) {
      assert.ok(readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)), `${pid} in the ${key || 'unified'} cgroup`);
    }
  };
  const id = detached('sleep 30');
  const pidFile = join(sb.dir, 'exec.pid');
  const r = sb.tsrun(['--debug', 'exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'exec: the process joins its cgroups itself', 'born in the cgroup2 one, v1 by writing its tasks files');
  inEveryCgroup(id, Number(readFileSync(pidFile, 'utf8')));

  const userns = sb.id('userns');
  const maps = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const c = sb.tsrun(['--debug', 'create', '--bundle', sb.bundle(['true'], (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = maps;
    s.linux!.gidMappings = maps;
  }), userns]);
  assert.is(c.code, 0, c.stderr);
  assert.match(c.stderr, /create: init in its cgroups \(\+/, 'tsrun wrote its pid to cgroup.procs');
  assert.not.match(c.stderr, 'joined them itself');
  inEveryCgroup(userns, state(userns).pid);
});

t('the `cgroup` mount shows the container its own cgroups (v1: one read-only bind per hierarchy)', () => {
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; ls /sys/fs/cgroup; touch /sys/fs/cgroup/pids/x 2>&1 || echo read-only'], (s) => {
    s.linux!.resources = { ...s.linux!.resources, memory: { limit: 48 * 1024 * 1024 }, pids: { limit: 33 } };
  }), sb.id()]);
  if (!existsSync('/sys/fs/cgroup/memory/cgroup.procs')) return; // pure v2 host: one cgroup2 mount instead
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines.slice(0, 2), [String(48 * 1024 * 1024), '33']);
  for (const h of ['memory', 'pids', 'cpu', 'cpuacct', 'devices', 'freezer']) assert.ok(lines.includes(h), `${h} in ${r.stdout}`);
  assert.match(r.stdout, 'read-only');
});

t('pids limit: fork beyond it fails', () => {
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo forked-all'], (s) => {
    s.linux!.resources = { ...s.linux!.resources, pids: { limit: 5 } };
  }), sb.id()]);
  assert.not.match(r.stdout, 'forked-all', 'the shell could not fork ten times');
  assert.match(r.stderr, /can't fork|Resource temporarily unavailable/);
});

t('cpu quota is visible in the cgroup files; update changes a live limit', () => {
  const id = detached('sleep 60', (s) => {
    s.linux!.resources = { ...s.linux!.resources, cpu: { quota: 50000, period: 100000 }, memory: { limit: 64 * 1024 * 1024 } };
  });
  assert.is(cgroupFile(id, 'cpu', 'cpu.cfs_quota_us'), '50000');
  assert.is(cgroupFile(id, 'memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  let r = sb.tsrun(['update', '--memory', '32m', '--cpu-quota', '20000', id]);
  assert.is(r.code, 0, r.stderr);
  assert.is(cgroupFile(id, 'memory', 'memory.limit_in_bytes'), String(32 * 1024 * 1024));
  assert.is(cgroupFile(id, 'cpu', 'cpu.cfs_quota_us'), '20000');
  r = sb.tsrun(['update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 42 } }) });
  assert.is(r.code, 0, r.stderr);
  assert.is(cgroupFile(id, 'pids', 'pids.max'), '42');
});

t('pause and resume stop and restart a counter; state shows paused', () => {
  const out = join(sb.dir, 'out');
  mkdirSync(out);
  // write-then-rename: a reader never sees the file empty (truncated, mid-write)
  const id = detached('i=0; while true; do i=$((i+1)); echo $i > /out/n.new; mv /out/n.new /out/n; sleep 0.05; done', (s) => {
    s.mounts!.push({ destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] });
  });
  const count = () => Number(readFileSync(join(out, 'n'), 'utf8') || '0');
  sleep(300);
  assert.is(sb.tsrun(['pause', id]).code, 0);
  assert.is(state(id).status, 'paused');
  sleep(100);
  const frozenAt = count();
  sleep(300);
  assert.is(count(), frozenAt, 'no progress while paused');
  assert.is(sb.tsrun(['resume', id]).code, 0);
  assert.is(state(id).status, 'running');
  for (let i = 0; i < 30 && count() <= frozenAt; i++) sleep(100);
  assert.ok(count() > frozenAt, 'counting again after resume');
  assert.is.not(sb.tsrun(['resume', id]).code, 0, 'resume of a running container is refused');
});

t('ps lists every pid; events --stats parses', () => {
  const id = detached('sleep 100 & sleep 100 & wait');
  sleep(200);
  const pids = JSON.parse(sb.tsrun(['ps', '--format', 'json', id]).stdout);
  assert.is(pids.length, 3, `init + 2 sleeps: ${pids}`);
  assert.ok(pids.includes(state(id).pid));
  const table = sb.tsrun(['ps', id]).stdout;
  assert.match(table, /PID/);
  assert.is(table.trim().split('\n').length, 4);
  const ev = JSON.parse(sb.tsrun(['events', '--stats', id]).stdout);
  assert.is(ev.type, 'stats');
  assert.is(ev.id, id);
  assert.ok(ev.data.memory, 'memory stats');
  assert.ok(ev.data.pids.current >= 3, 'pids stats');
});

t('kill --all reaches processes that forked away; delete removes the cgroups', () => {
  const bundle = sb.bundle(['sh', '-c', '(setsid sleep 100 &) ; sleep 100']);
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', bundle, id]).code, 0);
  sleep(200);
  const pids: number[] = JSON.parse(sb.tsrun(['ps', '--format', 'json', id]).stdout);
  assert.ok(pids.length >= 2);
  assert.is(sb.tsrun(['kill', '--all', id, 'KILL']).code, 0);
  for (let i = 0; i < 100 && pids.some((p) => existsSync(`/proc/${p}`) && !/State:\s+Z/.test(readFileSync(`/proc/${p}/status`, 'utf8'))); i++) sleep(20);
  assert.ok(pids.every((p) => !existsSync(`/proc/${p}`) || /State:\s+Z/.test(readFileSync(`/proc/${p}/status`, 'utf8'))), 'all gone');
  assert.is(sb.tsrun(['delete', id]).code, 0);
  assert.equal(cgroupLeftovers(bundleCgroupPath(bundle)), [], 'cgroups removed');
});

t.run();
