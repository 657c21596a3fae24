// Process security attributes checked from inside real containers: capabilities (all five sets),
// no_new_privs, rlimits, oom_score_adj, scheduler, I/O priority, personality, time namespace
// offsets, sysctl, exec CPU affinity. Compared with runc on the same bundle where both implement it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execSync } from 'node:child_process';
import { cpus } from 'node:os';
import { Sandbox, run, TSRUN } from '../support/containers.js';
import type { Spec } from '../../spec/types.js';

const t = suite('security-process');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

function both(script: string, edit: (s: Spec) => void) {
  const bundle = sb.bundle(['sh', '-c', script], edit);
  return { ts: sb.tsrun(['run', '--bundle', bundle, sb.id()]), runc: sb.runc(['run', '--bundle', bundle, sb.id('runc')]) };
}

function statusFields(text: string): Record<string, string> {
  return Object.fromEntries(text.trim().split('\n').map((l) => l.split(/:\s*/) as [string, string]));
}

const mask = (...bits: number[]) => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n).toString(16).padStart(16, '0');
const CAPS = {
  bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW', 'CAP_SETPCAP'],
  effective: ['CAP_CHOWN', 'CAP_KILL'],
  permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'],
  inheritable: ['CAP_KILL'],
  ambient: ['CAP_KILL'],
};

t('capabilities: the five sets as configured, root and non-root, same as runc', () => {
  for (const uid of [0, 1000]) {
    const { ts, runc } = both('grep -E "^(Cap|NoNewPrivs)" /proc/self/status', (s) => {
      s.process!.user = { uid, gid: uid };
      s.process!.capabilities = structuredClone(CAPS);
    });
    assert.is(ts.code, 0, ts.stderr);
    const f = statusFields(ts.stdout);
    assert.is(f.CapBnd, mask(0, 5, 13, 8), 'bounding');
    assert.is(f.CapInh, mask(5), 'inheritable');
    assert.is(f.CapAmb, mask(5), 'ambient');
    // After execve, root with no_new_privs keeps its permitted set (exec cannot add SETPCAP from the
    // bounding set); a non-root user without file capabilities keeps only the ambient set.
    if (uid === 0) assert.is(f.CapEff, mask(0, 5, 13), 'root: effective after exec');
    else assert.is(f.CapEff, mask(5), 'non-root: effective = ambient');
    assert.is(f.NoNewPrivs, '1');
    assert.is(runc.code, 0, runc.stderr);
    assert.is(ts.stdout, runc.stdout, `uid ${uid}: same sets as runc`);
  }
});

t('capabilities: nothing inheritable or ambient unless asked (CVE-2022-29162), also for exec --cap', () => {
  const bundle = sb.bundle(['sleep', '30']);
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', bundle, id]).code, 0);
  const r = sb.tsrun(['exec', '--cap', 'CAP_SYS_ADMIN', id, 'grep', '-E', '^Cap(Inh|Amb|Eff)', '/proc/self/status']);
  assert.is(r.code, 0, r.stderr);
  const f = statusFields(r.stdout);
  assert.is(f.CapInh, mask());
  assert.is(f.CapAmb, mask());
  assert.is(f.CapEff, mask(5, 10, 21, 29), 'default caps + CAP_SYS_ADMIN');
  const init = sb.tsrun(['exec', id, 'grep', '-E', '^Cap(Inh|Amb)', '/proc/1/status']);
  assert.is(init.code, 0, init.stderr);
  assert.equal(statusFields(init.stdout), { CapInh: mask(), CapAmb: mask() });
});

t('capabilities: malformed and unknown names fail validation (runc only warns about unknown ones)', () => {
  const cases: [string, RegExp][] = [['cap_chown', /"cap_chown" is not a capability name/], ['CAP_NOT_REAL', /unknown capability "CAP_NOT_REAL"/]];
  for (const [name, message] of cases) {
    const bad = sb.bundle(['true'], (s) => {
      s.process!.capabilities!.bounding!.push(name);
    });
    const id = sb.id();
    const r = sb.tsrun(['run', '--bundle', bad, id]);
    assert.is.not(r.code, 0, name);
    assert.match(r.stderr, '/process/capabilities/bounding/3');
    assert.match(r.stderr, message);
    assert.is.not(sb.tsrun(['state', id]).code, 0, 'no container left behind');
  }
});

t('noNewPrivileges false and true', () => {
  for (const nnp of [false, true]) {
    const { ts, runc } = both('grep NoNewPrivs /proc/self/status', (s) => {
      s.process!.noNewPrivileges = nnp;
    });
    assert.is(ts.code, 0, ts.stderr);
    assert.is(ts.stdout.trim(), `NoNewPrivs:\t${nnp ? 1 : 0}`);
    assert.is(ts.stdout, runc.stdout);
  }
});

t('rlimits: soft and hard as configured; above the caller\'s hard limit is a clear error', () => {
  const { ts, runc } = both('ulimit -Sn; ulimit -Hn; ulimit -Ss; ulimit -Hs', (s) => {
    s.process!.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: 100, hard: 200 },
      { type: 'RLIMIT_STACK', soft: 4096 * 1024, hard: 8192 * 1024 },
    ];
  });
  assert.is(ts.code, 0, ts.stderr);
  assert.is(ts.stdout, '100\n200\n4096\n8192\n');
  assert.is(ts.stdout, runc.stdout);

  // podman's default: nofile 1048576, above this host's hard limit; no CAP_SYS_RESOURCE here.
  const big = sb.bundle(['true'], (s) => {
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }];
  });
  const hard = Number(execSync('sh -c "ulimit -Hn"').toString());
  const id = sb.id();
  const r = sb.tsrun(['create', '--bundle', big, id]);
  if (hard >= 1048576) return; // a host that allows it: nothing to refuse
  assert.is.not(r.code, 0, 'create must fail');
  assert.match(r.stderr, 'rlimit RLIMIT_NOFILE 1048576:1048576');
  assert.match(r.stderr, 'above the hard limit');
  assert.is(sb.tsrun(['state', id]).code, 1, 'nothing left behind');
});

t('oomScoreAdj for the init and for exec', () => {
  const bundle = sb.bundle(['sleep', '30'], (s) => {
    s.process!.oomScoreAdj = 321;
  });
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', bundle, id]).code, 0);
  const r = sb.tsrun(['exec', id, 'sh', '-c', 'cat /proc/1/oom_score_adj /proc/self/oom_score_adj']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '321\n321\n');
  const proc = join(sb.dir, 'process.json');
  writeFileSync(proc, JSON.stringify({ args: ['cat', '/proc/self/oom_score_adj'], cwd: '/', user: { uid: 0, gid: 0 }, oomScoreAdj: 654, env: ['PATH=/bin'] }));
  const p = sb.tsrun(['exec', '--process', proc, id]);
  assert.is(p.code, 0, p.stderr);
  assert.is(p.stdout, '654\n');
});

t('scheduler, ioPriority, personality', () => {
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'grep ^policy /proc/self/sched; cut -d" " -f19 /proc/self/stat; ionice; uname -m'], (s) => {
    s.process!.scheduler = { policy: 'SCHED_BATCH', nice: 7 };
    s.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 };
    s.linux!.personality = { domain: 'LINUX32' };
  }), sb.id()]);
  assert.is(r.code, 0, r.stderr);
  const [policy, nice, ionice, machine] = r.stdout.trim().split('\n');
  assert.match(policy, /:\s+3$/, 'SCHED_BATCH is policy 3');
  assert.is(nice, '7');
  assert.is(ionice, 'best-effort: prio 6');
  if (process.arch === 'x64') assert.is(machine, 'i686', 'PER_LINUX32 reports a 32-bit machine');
});

t('scheduler: a refused policy fails create naming the field', () => {
  // SCHED_DEADLINE with runtime > deadline is EINVAL in the kernel.
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['true'], (s) => {
    s.process!.scheduler = { policy: 'SCHED_DEADLINE', runtime: 20_000_000, deadline: 10_000_000, period: 30_000_000 };
  }), sb.id()]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'process.scheduler');
});

t('time namespace: timeOffsets move boottime and monotonic', () => {
  const day = 86400;
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'cat /proc/self/timens_offsets; cut -d" " -f1 /proc/uptime'], (s) => {
    s.linux!.namespaces!.push({ type: 'time' });
    s.linux!.timeOffsets = { boottime: { secs: 365 * day }, monotonic: { secs: 2 * day, nanosecs: 5 } };
  }), sb.id()]);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^monotonic\s+172800\s+5$/);
  assert.match(lines[1], /^boottime\s+31536000\s+0$/);
  assert.ok(Number(lines[2]) > 365 * day, `uptime ${lines[2]} includes the boottime offset`);
});

t('sysctl: namespaced keys applied inside, others refused at create', () => {
  const { ts, runc } = both('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni', (s) => {
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1234' };
    s.linux!.readonlyPaths = s.linux!.readonlyPaths!.filter((p) => p !== '/proc/sys');
  });
  assert.is(ts.code, 0, ts.stderr);
  assert.is(ts.stdout, '1\n1234\n');
  assert.is(ts.stdout, runc.stdout);
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['true'], (s) => {
    s.linux!.sysctl = { 'kernel.pid_max': '4096' };
  }), sb.id()]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, '/linux/sysctl/kernel.pid_max');
  const noNet = sb.tsrun(['run', '--bundle', sb.bundle(['true'], (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
  }), sb.id()]);
  assert.is.not(noNet.code, 0, 'a net.* sysctl without a network namespace would change the host');
  assert.match(noNet.stderr, 'network');
});

t('execCPUAffinity: final applies to exec; without it exec gets all CPUs back', () => {
  const bundle = sb.bundle(['sleep', '30']);
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', bundle, id]).code, 0);
  const proc = join(sb.dir, 'affinity.json');
  writeFileSync(proc, JSON.stringify({
    args: ['grep', 'Cpus_allowed_list', '/proc/self/status'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'],
    execCPUAffinity: { initial: '0', final: '1' },
  }));
  const r = sb.tsrun(['exec', '--process', proc, id]);
  assert.is(r.code, 0, r.stderr);
  const n = cpus().length;
  assert.match(r.stdout, n > 1 ? /Cpus_allowed_list:\s+1$/m : /Cpus_allowed_list:\s+0$/m);
  // tsrun itself pinned to CPU 0: a plain exec is reset to every CPU (as runc does).
  const plain = run('taskset', ['-c', '0', TSRUN, '--root', sb.root, 'exec', id, 'grep', 'Cpus_allowed_list', '/proc/self/status']);
  assert.is(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, new RegExp(`Cpus_allowed_list:\\s+${n > 1 ? `0-${n - 1}` : '0'}$`, 'm'));
});

t('apparmorProfile, selinuxLabel, mountLabel: a clear error at create naming the field on a kernel without them', () => {
  const cases: [string, (s: Spec) => void, string][] = [
    ['process.apparmorProfile', (s) => (s.process!.apparmorProfile = 'tsrun-test-profile'), '/sys/kernel/security/apparmor'],
    ['process.selinuxLabel', (s) => (s.process!.selinuxLabel = 'system_u:system_r:container_t:s0'), '/sys/fs/selinux/enforce'],
    ['linux.mountLabel', (s) => (s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0'), '/sys/fs/selinux/enforce'],
  ];
  for (const [field, edit, probe] of cases) {
    if (existsSync(probe)) continue; // this kernel has the LSM: not what this test checks
    const id = sb.id();
    const r = sb.tsrun(['create', '--bundle', sb.bundle(['true'], edit), id]);
    assert.is(r.code, 1);
    assert.match(r.stderr, `${field}: unsupported`);
    assert.is(sb.tsrun(['state', id]).code, 1, 'nothing left behind');
  }
  if (!existsSync('/sys/kernel/security/apparmor')) {
    const live = sb.id();
    assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '30']), live]).code, 0);
    const e = sb.tsrun(['exec', '--apparmor', 'tsrun-test-profile', live, 'true']);
    assert.is(e.code, 1);
    assert.match(e.stderr, 'process.apparmorProfile: unsupported');
  }
});

t.run();
