// Run by cgroups-v2-ns.test.ts inside `unshare -m`: mounts a cgroup2 hierarchy at argv[2] in this
// private mount namespace and drives the manager in pure-v2 mode through it. Prints one JSON line.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createCgroupManager, detectLayout, CgroupError } from '../../runtime/cgroups/index.js';

const [mountpoint, name] = process.argv.slice(2);
execFileSync('mount', ['-t', 'cgroup2', 'none', mountpoint]);
const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(` ${mountpoint} `) && l.includes(' - cgroup2 ')).join('\n');
const layout = detectLayout({ mountinfo });
const hostControllers = layout.unified?.controllers ?? [];
// Enabling controllers would write the host root's cgroup.subtree_control: not ours to touch.
if (layout.unified) layout.unified.controllers = [];

const result: Record<string, unknown> = { mode: layout.mode, hostControllers };
const m = createCgroupManager({ id: 'ctr', cgroupsPath: `/${name}/ctr`, layout });
const children: ChildProcess[] = [];
const exited = (c: ChildProcess) => new Promise<string | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.signalCode) : c.once('exit', (_code, sig) => r(sig))));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  result.paths = m.paths();
  m.create();
  const dir = m.paths()[''];
  result.created = existsSync(`${dir}/cgroup.procs`);
  const s1 = spawn('sleep', ['100']);
  children.push(s1);
  m.apply(s1.pid!);
  result.procCgroup = readFileSync(`/proc/${s1.pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  result.pids = m.pids();
  result.sleeperPid = s1.pid;
  m.freeze();
  result.frozenState = m.state();
  result.frozenEvents = /frozen (\d)/.exec(readFileSync(`${dir}/cgroup.events`, 'utf8'))?.[1];
  m.thaw();
  result.thawedState = m.state();
  result.thawedEvents = /frozen (\d)/.exec(readFileSync(`${dir}/cgroup.events`, 'utf8'))?.[1];
  const stats = m.stats();
  result.statsPids = Number(stats.pids.current);
  result.statsCpuTotalIsBigint = typeof stats.cpu.usage.total === 'bigint';
  m.killAll(9); // cgroup.kill
  result.killedBy = await exited(s1);

  // the device filter through the manager's set(): eBPF on this v2 cgroup
  m.set({ devices: [{ allow: false, access: 'rwm' }] });
  const probe = spawnSync('sh', ['-c', `echo $$ > ${dir}/cgroup.procs || exit 99; echo x > /dev/null && echo null-ok; cat /dev/kmsg > /dev/null 2>&1 || echo kmsg-denied`], { encoding: 'utf8' });
  result.deviceProbe = probe.stdout;

  // SIGTERM path: freeze, signal, thaw
  const s2 = spawn('sleep', ['100']);
  children.push(s2);
  m.apply(s2.pid!);
  m.killAll(15);
  result.termBy = await exited(s2);
  result.stateAfterTerm = m.state();

  // no pids controller in this hierarchy: a clear error naming the field
  try {
    m.set({ pids: { limit: 5 } });
    result.pidsError = null;
  } catch (e) {
    result.pidsError = e instanceof CgroupError ? e.message : String(e);
  }
  for (let i = 0; i < 50 && m.pids().length; i++) await sleep(20);
  m.destroy();
  result.removed = !existsSync(dir) && !existsSync(`${mountpoint}/${name}/ctr`);
} catch (e) {
  result.error = (e as Error).stack;
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  try {
    m.destroy();
  } catch (e) {
    result.cleanupError = (e as Error).message;
  }
}
console.log(JSON.stringify(result));
