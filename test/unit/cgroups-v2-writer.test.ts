import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryCgroupFs } from '../../runtime/cgroups/cgroup-fs.js';
import { setV2 } from '../../runtime/cgroups/v2.js';
import { effectiveDeviceRules } from '../../runtime/cgroups/devices.js';
import { deviceFilterProgram } from '../../runtime/cgroups/ebpf.js';
import type { DeviceFilterLoader } from '../../runtime/cgroups/device-filter.js';
import type { WriteContext } from '../../runtime/cgroups/write-context.js';

const DIR = '/sys/fs/cgroup/tsrun/x';
const FILES = {
  'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma\n',
  'memory.max': 'max', 'memory.swap.max': 'max', 'memory.low': '0', 'memory.current': '1048576',
  'cpu.max': 'max 100000', 'cpu.weight': '100', 'cpu.max.burst': '0', 'cpu.idle': '0',
  'cpuset.cpus': '', 'cpuset.mems': '', 'io.max': '', 'io.weight': 'default 100', 'pids.max': 'max',
  'hugetlb.2MB.max': 'max', 'hugetlb.1GB.max': 'max', 'rdma.max': '', 'memory.high': 'max',
};

function setup(files: Record<string, string> = FILES) {
  const fs = new MemoryCgroupFs().populate(DIR, files);
  const warnings: string[] = [];
  const ctx: WriteContext = { fs, warn: (w) => warnings.push(w) };
  const at = (f: string) => fs.writesTo(`${DIR}/${f}`);
  return { fs, ctx, at, warnings };
}

test('memory.max / memory.low / memory.swap.max: -1 is "max", swap is given as memory+swap and written as swap alone', () => {
  let s = setup();
  setV2(s.ctx, DIR, { memory: { limit: 8388608, swap: 16777216, reservation: 4194304 } });
  assert.equal(s.at('memory.swap.max'), ['8388608']);
  assert.equal(s.at('memory.max'), ['8388608']);
  assert.equal(s.at('memory.low'), ['4194304']);
  s = setup();
  setV2(s.ctx, DIR, { memory: { limit: -1 } });
  assert.equal(s.at('memory.swap.max'), ['max']);
  assert.equal(s.at('memory.max'), ['max']);
  s = setup();
  setV2(s.ctx, DIR, { memory: { limit: 8388608, swap: 8388608 } });
  assert.equal(s.at('memory.swap.max'), ['0'], 'swap equal to the limit: no swap');
  assert.throws(() => setV2(s.ctx, DIR, { memory: { swap: 100 } }), /unable to set swap limit without memory limit/);
  assert.throws(() => setV2(s.ctx, DIR, { memory: { limit: 200, swap: 100 } }), /should be >= memory limit.*memory\.swap/);
});

test('memory: no swap accounting (no memory.swap.max) is fine for "max"; v1-only knobs are errors naming the field; kernel ignored', () => {
  const files: Record<string, string> = { ...FILES };
  delete files['memory.swap.max'];
  const s = setup(files);
  setV2(s.ctx, DIR, { memory: { limit: -1, kernel: 1, kernelTCP: 2 } });
  assert.equal(s.at('memory.max'), ['max']);
  assert.match(s.warnings[0], /kernel and kernelTCP are ignored/);
  assert.throws(() => setV2(s.ctx, DIR, { memory: { limit: 100, swap: 300 } }), /memory\.swap\.max: ENOENT/);
  assert.throws(() => setV2(s.ctx, DIR, { memory: { swappiness: 0 } }), /linux\.resources\.memory\.swappiness: cgroup v2 has no per-cgroup swappiness/);
  assert.throws(() => setV2(s.ctx, DIR, { memory: { disableOOMKiller: true } }), /disableOOMKiller/);
  assert.throws(() => setV2(s.ctx, DIR, { memory: { useHierarchy: false } }), /always hierarchical/);
  assert.throws(() => setV2(s.ctx, DIR, { memory: { limit: 1000, checkBeforeUpdate: true } }), /not above the current usage 1048576/);
});

test('cpu.max "quota period" / "max period", cpu.weight from shares, burst, idle, cpuset', () => {
  let s = setup();
  setV2(s.ctx, DIR, { cpu: { shares: 1024, quota: 50000, period: 200000, burst: 1000, idle: 0, cpus: '0-3', mems: '0' } });
  assert.equal(s.at('cpu.weight'), ['100']);
  assert.equal(s.at('cpu.max'), ['50000 200000']);
  assert.equal(s.at('cpu.max.burst'), ['1000']);
  assert.equal(s.at('cpu.idle'), ['0']);
  assert.equal(s.at('cpuset.cpus'), ['0-3']);
  assert.equal(s.at('cpuset.mems'), ['0']);
  s = setup();
  setV2(s.ctx, DIR, { cpu: { quota: -1, period: 100000 } });
  assert.equal(s.at('cpu.max'), ['max 100000']);
  s = setup();
  setV2(s.ctx, DIR, { cpu: { quota: 25000 } });
  assert.equal(s.at('cpu.max'), ['25000 100000'], 'period defaults to 100000');
  s = setup();
  setV2(s.ctx, DIR, { cpu: { shares: 2 } });
  assert.equal(s.at('cpu.weight'), ['1']);
  assert.throws(() => setV2(s.ctx, DIR, { cpu: { realtimeRuntime: 1000 } }), /realtimeRuntime: cgroup v2 has no realtime/);
});

test('io.max "MAJ:MIN rbps=N" etc.; io.weight converted from the blkio range, io.bfq.weight as is', () => {
  let s = setup();
  setV2(s.ctx, DIR, {
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 1000 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 50 }],
    },
  });
  assert.equal(s.at('io.weight'), ['4950', '8:0 10000']);
  assert.equal(s.at('io.max'), ['8:0 rbps=1048576', '8:0 wbps=2097152', '8:16 riops=100', '8:16 wiops=50']);
  s = setup({ ...FILES, 'io.bfq.weight': 'default 100\n' });
  setV2(s.ctx, DIR, { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] } });
  assert.equal(s.at('io.bfq.weight'), ['500', '8:0 300']);
  assert.equal(s.at('io.weight'), []);
  assert.throws(() => setV2(s.ctx, DIR, { blockIO: { leafWeight: 10 } }), /leafWeight: cgroup v2 has no leaf weight/);
});

test('pids.max, hugetlb.<size>.max, rdma.max; net_cls/net_prio and unavailable controllers are errors', () => {
  const s = setup();
  setV2(s.ctx, DIR, { pids: { limit: 64 }, hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }, { pageSize: '1GB', limit: 0 }], rdma: { mlx5_1: { hcaHandles: 3 } } });
  assert.equal(s.at('pids.max'), ['64']);
  assert.equal(s.at('hugetlb.2MB.max'), ['2097152']);
  assert.equal(s.at('hugetlb.1GB.max'), ['0']);
  assert.equal(s.at('rdma.max'), ['mlx5_1 hca_handle=3']);
  assert.throws(() => setV2(s.ctx, DIR, { network: { classID: 1 } }), /network\.classID: net_cls does not exist in cgroup v2/);
  const t = setup({ ...FILES, 'cgroup.controllers': 'memory pids' });
  assert.throws(() => setV2(t.ctx, DIR, { cpu: { shares: 100 } }), /linux\.resources\.cpu: the cpu controller is not enabled for \/sys\/fs\/cgroup\/tsrun\/x \(cgroup\.controllers: memory pids\)/);
  assert.throws(() => setV2(t.ctx, DIR, { blockIO: { weight: 100 } }), /the io controller is not enabled/);
});

test('unified: key/value written line by line; slashes, unknown files and missing controllers rejected', () => {
  const s = setup();
  setV2(s.ctx, DIR, { unified: { 'memory.high': '1000000', 'io.max': '8:0 rbps=1\n8:16 wbps=2\n' } });
  assert.equal(s.at('memory.high'), ['1000000']);
  assert.equal(s.at('io.max'), ['8:0 rbps=1', '8:16 wbps=2']);
  assert.throws(() => setV2(s.ctx, DIR, { unified: { '../cgroup.procs': '1' } }), /unified\.\.\.\/cgroup\.procs: must be a file name/);
  assert.throws(() => setV2(s.ctx, DIR, { unified: { 'misc.max': 'x 1' } }), /the misc controller is not enabled/);
  assert.throws(() => setV2(s.ctx, DIR, { unified: { 'memory.nope': '1' } }), /memory\.nope does not exist/);
});

test('devices: the eBPF filter program goes to the loader for this directory', () => {
  const s = setup();
  const attached: { dir: string; program: Buffer }[] = [];
  const loader: DeviceFilterLoader = { attach: (dir, program) => void attached.push({ dir, program }), attached: () => [], detachAll: () => {} };
  const rules = effectiveDeviceRules([{ allow: false, access: 'rwm' }]);
  setV2(s.ctx, DIR, {}, { devices: rules, loader });
  assert.is(attached.length, 1);
  assert.is(attached[0].dir, DIR);
  assert.ok(attached[0].program.equals(deviceFilterProgram(rules)));
  setV2(s.ctx, DIR, { pids: { limit: 1 } }, { loader });
  assert.is(attached.length, 1, 'no devices in the resources: programs left alone');
});

test.run();
