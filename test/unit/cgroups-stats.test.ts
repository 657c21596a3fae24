import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryCgroupFs } from '../../runtime/cgroups/cgroup-fs.js';
import { statsV1, statsV2, statsEventJson, statsToRuncShape, parseIoStat, emptyStats, parseBlkioV1 } from '../../runtime/cgroups/stats.js';

test('v1: cpuacct, cpu throttling, memory (usage/swap/kernel, raw), pids, blkio (throttle family)', () => {
  const fs = new MemoryCgroupFs()
    .populate('/c/cpuacct', {
      'cpuacct.usage': '123456789\n', 'cpuacct.usage_percpu': '100 200 \n',
      'cpuacct.usage_all': 'cpu user system\n0 60 40\n1 150 50\n', 'cpuacct.stat': 'user 12\nsystem 3\n',
    })
    .populate('/c/cpu', { 'cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n' })
    .populate('/c/memory', {
      'memory.stat': 'cache 4096\nrss 8192\ntotal_cache 4096\n', 'memory.usage_in_bytes': '12288\n', 'memory.max_usage_in_bytes': '20480\n',
      'memory.failcnt': '3\n', 'memory.limit_in_bytes': '8388608\n', 'memory.memsw.usage_in_bytes': '12288\n', 'memory.memsw.max_usage_in_bytes': '20480\n',
      'memory.memsw.failcnt': '0\n', 'memory.memsw.limit_in_bytes': '9223372036854771712\n',
    })
    .populate('/c/pids', { 'pids.current': '2\n', 'pids.max': 'max\n' })
    .populate('/c/blkio', {
      'blkio.bfq.io_serviced_recursive': '', 'blkio.throttle.io_serviced_recursive': '8:0 Read 4\n8:0 Write 6\nTotal 10\n',
      'blkio.throttle.io_service_bytes_recursive': '8:0 Read 16384\n8:0 Write 24576\nTotal 40960\n',
    });
  const s = statsV1(fs, { cpuacct: '/c/cpuacct', cpu: '/c/cpu', memory: '/c/memory', pids: '/c/pids', blkio: '/c/blkio' });
  assert.is(s.cpu.usage.total, 123456789n);
  assert.equal(s.cpu.usage.percpu, [100n, 200n]);
  assert.equal(s.cpu.usage.percpu_user, [60n, 150n]);
  assert.equal(s.cpu.usage.percpu_kernel, [40n, 50n]);
  assert.is(s.cpu.usage.user, 120000000n, 'USER_HZ ticks -> ns');
  assert.is(s.cpu.usage.kernel, 30000000n);
  assert.equal(s.cpu.throttling, { periods: 10n, throttledPeriods: 2n, throttledTime: 5000n });
  assert.equal(s.memory.usage, { usage: 12288n, max: 20480n, failcnt: 3n, limit: 8388608n });
  assert.is(s.memory.swap.limit, 9223372036854771712n);
  assert.is(s.memory.cache, 4096n);
  assert.is(s.memory.raw.rss, 8192n);
  assert.equal(s.pids, { current: 2n, limit: 0n }, '"max" is reported as 0 (no limit), as runc');
  assert.equal(s.blkio.ioServicedRecursive.map((e) => `${e.major}:${e.minor} ${e.op} ${e.value}`), ['8:0 Read 4', '8:0 Write 6']);
  assert.is(s.blkio.ioServiceBytesRecursive.length, 2);
});

test('v2: cpu.stat in usec -> ns, memory.current/max/peak, swap reported as memory+swap, pids, io.stat', () => {
  const fs = new MemoryCgroupFs().populate('/u/x', {
    'cpu.stat': 'usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 5\nnr_throttled 1\nthrottled_usec 20\n',
    'memory.stat': 'anon 8192\nfile 4096\n', 'memory.current': '12288\n', 'memory.max': 'max\n', 'memory.peak': '16384\n',
    'memory.events': 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n', 'memory.swap.current': '100\n', 'memory.swap.max': 'max\n',
    'pids.current': '3\n', 'pids.max': '10\n', 'io.stat': '8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n',
  });
  const s = statsV2(fs, '/u/x');
  assert.equal(s.cpu.usage.total, 1000000n);
  assert.equal(s.cpu.throttling, { periods: 5n, throttledPeriods: 1n, throttledTime: 20000n });
  assert.equal(s.memory.usage, { usage: 12288n, limit: 18446744073709551615n, max: 16384n, failcnt: 7n });
  assert.is(s.memory.cache, 4096n);
  assert.equal(s.memory.swap.usage, 12388n);
  assert.equal(s.pids, { current: 3n, limit: 10n });
  assert.equal(s.blkio.ioServiceBytesRecursive.map((e) => e.op + e.value), ['Read1', 'Write2']);
  assert.equal(s.blkio.ioServicedRecursive.map((e) => e.op + e.value), ['Read3', 'Write4']);
});

test('v2 without the pids controller counts cgroup.procs', () => {
  const fs = new MemoryCgroupFs().populate('/u/y', { 'cgroup.procs': '10\n11\n' });
  assert.equal(statsV2(fs, '/u/y').pids, { current: 2n, limit: 0n });
});

test('JSON as runc prints it: exact u64, omitempty zero fields dropped, fixed keys kept', () => {
  const s = emptyStats();
  s.memory.usage = { usage: 0n, max: 0n, failcnt: 0n, limit: 18446744073709551615n };
  s.pids.current = 1n;
  s.cpu.usage.user = 5n;
  const j = statsEventJson('c1', s);
  const parsed = JSON.parse(j);
  assert.is(parsed.type, 'stats');
  assert.is(parsed.id, 'c1');
  assert.ok(j.includes('"limit":18446744073709551615'), j);
  assert.equal(parsed.data.memory.usage, { limit: 18446744073709552000, failcnt: 0 });
  assert.equal(parsed.data.pids, { current: 1 });
  assert.equal(parsed.data.cpu, { usage: { kernel: 0, user: 5 } });
  assert.is(parsed.data.network_interfaces, null);
  assert.equal(Object.keys(statsToRuncShape(emptyStats())), ['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
});

test('parsers: blkio lines without op, io.stat unknown keys', () => {
  assert.equal(parseBlkioV1('8:0 6792\n').map((e) => [e.major, e.minor, e.op, e.value]), [[8n, 0n, '', 6792n]]);
  const s = emptyStats();
  parseIoStat('253:1 rbytes=10 cost.usage=5 wios=2\nbad line\n', s);
  assert.is(s.blkio.ioServiceBytesRecursive.length, 1);
  assert.is(s.blkio.ioServicedRecursive[0].op, 'Write');
});

test.run();
