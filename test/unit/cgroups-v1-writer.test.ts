import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryCgroupFs } from '../../runtime/cgroups/cgroup-fs.js';
import { setV1 } from '../../runtime/cgroups/v1.js';
import { effectiveDeviceRules } from '../../runtime/cgroups/devices.js';
import { CgroupError } from '../../runtime/cgroups/errors.js';
import type { WriteContext } from '../../runtime/cgroups/write-context.js';

const FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': '9223372036854771712', 'memory.memsw.limit_in_bytes': '9223372036854771712', 'memory.soft_limit_in_bytes': '',
    'memory.usage_in_bytes': '9437184', 'memory.max_usage_in_bytes': '10485760', 'memory.kmem.tcp.limit_in_bytes': '', 'memory.oom_control': '',
    'memory.swappiness': '60', 'memory.use_hierarchy': '1',
  },
  cpu: { 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1', 'cpu.cfs_burst_us': '0', 'cpu.idle': '0', 'cpu.rt_period_us': '1000000', 'cpu.rt_runtime_us': '0' },
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  pids: { 'pids.max': 'max' },
  blkio: { 'blkio.throttle.read_bps_device': '', 'blkio.throttle.write_bps_device': '', 'blkio.throttle.read_iops_device': '', 'blkio.throttle.write_iops_device': '' },
  devices: { 'devices.allow': '', 'devices.deny': '' },
  freezer: { 'freezer.state': 'THAWED' },
};

function setup(controllers = Object.keys(FILES)) {
  const fs = new MemoryCgroupFs();
  const paths: Record<string, string> = {};
  for (const c of controllers) {
    paths[c] = `/cg/${c}/tsrun/x`;
    fs.populate(paths[c], FILES[c]);
  }
  const warnings: string[] = [];
  const ctx: WriteContext = { fs, warn: (w) => warnings.push(w) };
  return { fs, paths, ctx, warnings, p: (c: string, f: string) => `/cg/${c}/tsrun/x/${f}` };
}

test('memory: limit, reservation, swappiness, OOM killer, kernelTCP; kernel memory ignored with a warning when absent', () => {
  const { fs, paths, ctx, p, warnings } = setup();
  setV1(ctx, paths, { memory: { limit: 8388608, reservation: 4194304, swappiness: 10, disableOOMKiller: true, kernelTCP: 1048576, kernel: 2097152 } });
  assert.equal(fs.writesTo(p('memory', 'memory.limit_in_bytes')), ['8388608']);
  assert.equal(fs.writesTo(p('memory', 'memory.soft_limit_in_bytes')), ['4194304']);
  assert.equal(fs.writesTo(p('memory', 'memory.swappiness')), ['10']);
  assert.equal(fs.writesTo(p('memory', 'memory.oom_control')), ['1']);
  assert.equal(fs.writesTo(p('memory', 'memory.kmem.tcp.limit_in_bytes')), ['1048576']);
  assert.match(warnings.join('\n'), /memory\.kernel is ignored/);
});

test('memory+swap: swap first when raising above the current limit, limit first when lowering', () => {
  let s = setup();
  setV1(s.ctx, s.paths, { memory: { limit: 100, swap: 200 } });
  assert.equal(s.fs.writes.filter((w) => w.path.includes('/memory/')).map((w) => w.path.split('/').pop()), ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'], 'current limit is huge: lower limit first');
  s = setup();
  s.fs.files.set(s.p('memory', 'memory.limit_in_bytes'), '50');
  setV1(s.ctx, s.paths, { memory: { limit: 100, swap: 200 } });
  assert.equal(s.fs.writes.map((w) => w.path.split('/').pop()), ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
  s = setup();
  setV1(s.ctx, s.paths, { memory: { limit: -1 } });
  assert.equal(s.fs.writes.map((w) => `${w.path.split('/').pop()}=${w.value}`), ['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1'], 'unlimited memory also unlimits swap');
});

test('memory: EBUSY says the limit is below the usage; swap without swap accounting is an error naming the field', () => {
  const s = setup();
  s.fs.failures.push({ op: 'write', path: s.p('memory', 'memory.limit_in_bytes'), code: 'EBUSY' });
  assert.throws(() => setV1(s.ctx, s.paths, { memory: { limit: 8388608 } }), (e: Error) =>
    e instanceof CgroupError && e.message.startsWith('cgroup: write 8388608 to /cg/memory/tsrun/x/memory.limit_in_bytes: EBUSY') &&
    /usage 9437184 bytes, peak 10485760/.test(e.message) && e.field === 'linux.resources.memory.limit');
  const t = setup();
  t.fs.files.delete(t.p('memory', 'memory.memsw.limit_in_bytes'));
  assert.throws(() => setV1(t.ctx, t.paths, { memory: { limit: 100, swap: 200 } }), /linux\.resources\.memory\.swap: swap accounting is not enabled/);
  setV1(t.ctx, t.paths, { memory: { limit: 100, swap: -1 } });
  assert.throws(() => setV1(t.ctx, t.paths, { memory: { swappiness: 101 } }), /swappiness: 101 is out of range/);
});

test('cpu: shares read back, quota/period/burst, idle, realtime; cpuset', () => {
  const s = setup();
  setV1(s.ctx, s.paths, { cpu: { shares: 512, quota: 50000, period: 200000, burst: 1000, idle: 1, realtimePeriod: 1000000, realtimeRuntime: 950000, cpus: '0-1', mems: '0' } });
  const vals = (c: string, f: string) => s.fs.writesTo(s.p(c, f));
  assert.equal(vals('cpu', 'cpu.shares'), ['512']);
  assert.equal(vals('cpu', 'cpu.cfs_period_us'), ['200000']);
  assert.equal(vals('cpu', 'cpu.cfs_quota_us'), ['50000']);
  assert.equal(vals('cpu', 'cpu.cfs_burst_us'), ['1000']);
  assert.equal(vals('cpu', 'cpu.idle'), ['1']);
  assert.equal(vals('cpu', 'cpu.rt_period_us'), ['1000000']);
  assert.equal(vals('cpu', 'cpu.rt_runtime_us'), ['950000']);
  assert.equal(vals('cpuset', 'cpuset.cpus'), ['0-1']);
  assert.equal(vals('cpuset', 'cpuset.mems'), ['0']);
});

test('cpu: a period the kernel refuses (EINVAL) is retried after the quota', () => {
  const s = setup();
  s.fs.failures.push({ op: 'write', path: s.p('cpu', 'cpu.cfs_period_us'), code: 'EINVAL', times: 1 });
  setV1(s.ctx, s.paths, { cpu: { quota: 1000, period: 5000 } });
  assert.equal(s.fs.writes.map((w) => w.path.split('/').pop()), ['cpu.cfs_quota_us', 'cpu.cfs_period_us']);
});

test('cpu: out-of-range shares clamped by the kernel are reported', () => {
  const s = setup();
  s.fs.onWrite = (path, value, fs) => {
    if (path.endsWith('cpu.shares')) fs.files.set(path, String(Math.min(Number(value), 262144)));
  };
  assert.throws(() => setV1(s.ctx, s.paths, { cpu: { shares: 500000 } }), /cpu\.shares: 500000 is out of range .*maximum is 262144/);
});

test('pids: -1 -> max, 0 -> 1 (as runc), N -> N', () => {
  for (const [limit, want] of [[-1, 'max'], [0, '1'], [32, '32']] as const) {
    const s = setup();
    setV1(s.ctx, s.paths, { pids: { limit } });
    assert.equal(s.fs.writesTo(s.p('pids', 'pids.max')), [want]);
  }
});

test('blkio: throttles as "MAJ:MIN rate"; weight needs CFQ or BFQ', () => {
  const s = setup();
  setV1(s.ctx, s.paths, { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }] } });
  assert.equal(s.fs.writesTo(s.p('blkio', 'blkio.throttle.read_bps_device')), ['8:0 1048576']);
  assert.equal(s.fs.writesTo(s.p('blkio', 'blkio.throttle.write_iops_device')), ['8:16 100']);
  assert.throws(() => setV1(s.ctx, s.paths, { blockIO: { weight: 500 } }), /linux\.resources\.blockIO\.weight: this host has no blkio\.weight or blkio\.bfq\.weight/);
  s.fs.populate(s.paths.blkio, { 'blkio.bfq.weight': '100', 'blkio.bfq.weight_device': '' });
  setV1(s.ctx, s.paths, { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] } });
  assert.equal(s.fs.writesTo(s.p('blkio', 'blkio.bfq.weight')), ['500']);
  assert.equal(s.fs.writesTo(s.p('blkio', 'blkio.bfq.weight_device')), ['8:0 300']);
  assert.throws(() => setV1(s.ctx, s.paths, { blockIO: { leafWeight: 300 } }), /leafWeight: this host has no blkio\.leaf_weight/);
});

test('controllers that are not mounted are an error only when asked for', () => {
  const s = setup();
  setV1(s.ctx, s.paths, { hugepageLimits: [], network: {}, rdma: {}, unified: {} });
  assert.is(s.fs.writes.length, 0);
  assert.throws(() => setV1(s.ctx, s.paths, { hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }), /linux\.resources\.hugepageLimits: the hugetlb cgroup controller is not available/);
  assert.throws(() => setV1(s.ctx, s.paths, { network: { classID: 0x100001 } }), /network\.classID: the net_cls cgroup controller/);
  assert.throws(() => setV1(s.ctx, s.paths, { network: { priorities: [{ name: 'eth0', priority: 5 }] } }), /network\.priorities: the net_prio/);
  assert.throws(() => setV1(s.ctx, s.paths, { rdma: { mlx4_0: { hcaHandles: 2 } } }), /linux\.resources\.rdma: the rdma cgroup controller/);
  assert.throws(() => setV1(s.ctx, s.paths, { unified: { 'memory.high': '1' } }), /linux\.resources\.unified: needs cgroup v2/);
});

test('hugetlb, net_cls, net_prio, rdma file formats when the controllers exist', () => {
  const s = setup([]);
  const paths = { hugetlb: '/h', net_cls: '/nc', net_prio: '/np', rdma: '/r' };
  s.fs.populate('/h', ['hugetlb.2MB.limit_in_bytes', 'hugetlb.2MB.rsvd.limit_in_bytes']).populate('/nc', ['net_cls.classid']).populate('/np', ['net_prio.ifpriomap']).populate('/r', ['rdma.max']);
  setV1(s.ctx, paths, {
    hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
    network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 5 }, { name: 'lo', priority: 1 }] },
    rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 7 } },
  });
  assert.equal(s.fs.writes.map((w) => `${w.path}=${w.value}`), [
    '/h/hugetlb.2MB.limit_in_bytes=4194304', '/h/hugetlb.2MB.rsvd.limit_in_bytes=4194304',
    '/nc/net_cls.classid=1048577', '/np/net_prio.ifpriomap=eth0 5', '/np/net_prio.ifpriomap=lo 1',
    '/r/rdma.max=mlx5_1 hca_handle=3 hca_object=10000', '/r/rdma.max=mlx4_0 hca_object=7',
  ]);
  assert.throws(() => setV1(s.ctx, paths, { hugepageLimits: [{ pageSize: '2M', limit: 1 }] }), /hugepageLimits\[0\]\.pageSize: page size "2M"/);
});

test('devices: deny-all first as "a", then the config rules, runc defaults and linux.devices in order', () => {
  const s = setup();
  const rules = effectiveDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 4, minor: 64, access: 'rw' }], [{ type: 'b', path: '/dev/sda', major: 8, minor: 0 }]);
  setV1(s.ctx, s.paths, {}, { devices: rules });
  const w = s.fs.writes.map((x) => `${x.path.split('/').pop()} ${x.value}`);
  assert.equal(w[0], 'devices.deny a');
  assert.equal(w[1], 'devices.allow c 4:64 rw');
  assert.equal(w[2], 'devices.allow c *:* m');
  assert.ok(w.includes('devices.allow c 1:3 rwm'));
  assert.ok(w.includes('devices.allow c 136:* rwm'));
  assert.equal(w[w.length - 1], 'devices.allow b 8:0 rwm');
  assert.throws(() => effectiveDeviceRules([{ allow: true, access: 'rx' }]), /devices\[0\]\.access/);
});

test.run();
