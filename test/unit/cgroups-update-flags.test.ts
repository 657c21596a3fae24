import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resourcesFromUpdateFlags, parseResourcesJson, mergeResources, intelRdtFromUpdateFlags, parseSize } from '../../runtime/cgroups/update-flags.js';
import { cpuSharesToWeight, blkioWeightToIoWeight, memorySwapToV2 } from '../../runtime/cgroups/convert.js';

test('sizes as runc (go-units RAMInBytes): binary units, optional i/b, decimals', () => {
  assert.is(parseSize('8m'), 8388608);
  assert.is(parseSize('1g'), 1073741824);
  assert.is(parseSize('512K'), 524288);
  assert.is(parseSize('1.5GiB'), 1610612736);
  assert.is(parseSize('100'), 100);
  assert.is(parseSize('10 MB'), 10485760);
  assert.throws(() => parseSize('-5m'), /invalid size/);
  assert.throws(() => parseSize('8x'), /invalid size/);
});

test('update flags -> resources', () => {
  const r = resourcesFromUpdateFlags({
    memory: '8m', 'memory-swap': '-1', 'memory-reservation': '4m', 'kernel-memory': '1m', '--cpu-share': '512', 'cpu-quota': '-1', 'cpu-period': '100000',
    'cpu-rt-period': '1000000', 'cpu-rt-runtime': '950000', 'cpuset-cpus': '0-1', 'cpuset-mems': '0', 'blkio-weight': '300', 'pids-limit': '0', 'cpu-burst': '10', 'cpu-idle': '1',
  });
  assert.equal(r, {
    blockIO: { weight: 300 },
    cpu: { cpus: '0-1', mems: '0', idle: 1, burst: 10, period: 100000, realtimePeriod: 1000000, shares: 512, quota: -1, realtimeRuntime: 950000 },
    memory: { limit: 8388608, swap: -1, kernel: 1048576, reservation: 4194304 },
    pids: { limit: 0 },
  });
  assert.equal(resourcesFromUpdateFlags({ 'cpu-shares': '100' }), { cpu: { shares: 100 } });
  assert.equal(resourcesFromUpdateFlags({}), {});
  assert.throws(() => resourcesFromUpdateFlags({ 'cpu-period': '-5' }), /invalid value for --cpu-period: "-5": not an unsigned integer/);
  assert.throws(() => resourcesFromUpdateFlags({ memory: 'lots' }), /invalid value for --memory: "lots": invalid size/);
  assert.equal(intelRdtFromUpdateFlags({ 'l3-cache-schema': 'L3:0=ff' }), { l3CacheSchema: 'L3:0=ff' });
  assert.is(intelRdtFromUpdateFlags({ memory: '1m' }), undefined);
});

test('--resources JSON: an object; devices dropped (update cannot change them); bad shapes rejected', () => {
  const r = parseResourcesJson('{"memory":{"limit":1048576},"cpu":{"quota":1000},"devices":[{"allow":true,"access":"rwm"}],"pids":null}');
  assert.equal(r, { memory: { limit: 1048576 }, cpu: { quota: 1000 } });
  assert.throws(() => parseResourcesJson('[1]'), /expected a JSON object/);
  assert.throws(() => parseResourcesJson('{"memory":5}'), /"memory" must be an object/);
  assert.throws(() => parseResourcesJson('{'), /invalid JSON/);
});

test('merge: the update replaces the fields it sets; per-device throttles upserted; devices never kept', () => {
  const base = {
    devices: [{ allow: false, access: 'rwm' }],
    memory: { limit: 100, reservation: 50 },
    cpu: { quota: 1000, period: 50000 },
    blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }, { major: 8, minor: 16, rate: 2 }] },
  };
  const m = mergeResources(base, { memory: { limit: 200 }, cpu: { quota: 2000 }, blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 16, rate: 3 }, { major: 9, minor: 0, rate: 4 }] } });
  assert.equal(m.memory, { limit: 200, reservation: 50 });
  assert.equal(m.cpu, { quota: 2000, period: 50000 }, 'period kept from before (runc)');
  assert.equal(m.blockIO?.throttleReadBpsDevice, [{ major: 8, minor: 0, rate: 1 }, { major: 8, minor: 16, rate: 3 }, { major: 9, minor: 0, rate: 4 }]);
  assert.is(m.devices, undefined);
});

test('conversions: cpu shares -> weight (runc current formula), blkio -> io weight, swap', () => {
  assert.is(cpuSharesToWeight(0), 0);
  assert.is(cpuSharesToWeight(2), 1);
  assert.is(cpuSharesToWeight(1024), 100);
  assert.is(cpuSharesToWeight(262144), 10000);
  assert.is(cpuSharesToWeight(512), 59);
  assert.is(cpuSharesToWeight(100000), 4340);
  assert.is(cpuSharesToWeight(3), 2);
  assert.is(cpuSharesToWeight(262143), 10000);
  assert.is(blkioWeightToIoWeight(10), 1);
  assert.is(blkioWeightToIoWeight(1000), 10000);
  assert.is(blkioWeightToIoWeight(500), 4950);
  assert.is(memorySwapToV2(0, -1), -1);
  assert.is(memorySwapToV2(300, 100), 200);
  assert.is(memorySwapToV2(-1, 100), -1);
});

test.run();
