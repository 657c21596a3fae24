import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { detectLayout, parseProcCgroup } from '../../runtime/cgroups/layout.js';
import { innerCgroupPath, resolvePaths } from '../../runtime/cgroups/paths.js';
import { MemoryCgroupFs } from '../../runtime/cgroups/cgroup-fs.js';
import { createCgroupManager, CgroupError } from '../../runtime/cgroups/index.js';

// This machine's mountinfo (hybrid) and a few other hosts'.
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_SELF = `9:name=systemd:/
6:freezer:/
5:devices:/
4:memory:/process_api/abc
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;
const V2 = `25 20 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n`;
const V1_COMOUNT = `30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /cg\\040dir/memory rw - cgroup cgroup rw,memory
32 25 0:28 /docker/abc /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
`;

function fsWith(controllers: Record<string, string>): MemoryCgroupFs {
  const fs = new MemoryCgroupFs();
  for (const [mp, c] of Object.entries(controllers)) fs.populate(mp, { 'cgroup.controllers': c });
  return fs;
}

test('hybrid: v1 controllers plus the unified mount, from mountinfo', () => {
  const l = detectLayout({ mountinfo: HYBRID, procCgroup: HYBRID_SELF, fs: fsWith({ '/sys/fs/cgroup/unified': 'hugetlb\n' }) });
  assert.is(l.mode, 'hybrid');
  assert.equal(Object.keys(l.v1).sort(), ['cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'name=systemd']);
  assert.equal(l.unified, { mountpoint: '/sys/fs/cgroup/unified', root: '/', controllers: ['hugetlb'] });
  assert.is(l.own.memory, '/process_api/abc');
  assert.is(l.own[''], '/');
});

test('pure v2, and v1 with co-mounted controllers, escaped mountpoints and a non-root mount', () => {
  const v2 = detectLayout({ mountinfo: V2, procCgroup: '0::/user.slice/x.scope\n', fs: fsWith({ '/sys/fs/cgroup': 'cpuset cpu io memory pids' }) });
  assert.is(v2.mode, 'v2');
  assert.equal(v2.unified?.controllers, ['cpuset', 'cpu', 'io', 'memory', 'pids']);
  const v1 = detectLayout({ mountinfo: V1_COMOUNT, procCgroup: '3:cpu,cpuacct:/a\n2:memory:/a\n1:devices:/docker/abc/b\n', fs: new MemoryCgroupFs() });
  assert.is(v1.mode, 'v1');
  assert.is(v1.v1.cpu.mountpoint, '/sys/fs/cgroup/cpu,cpuacct');
  assert.is(v1.v1.cpuacct.mountpoint, '/sys/fs/cgroup/cpu,cpuacct');
  assert.is(v1.v1.memory.mountpoint, '/cg dir/memory');
  assert.is(v1.own.cpuacct, '/a');
  // relative cgroupsPath: below this process's cgroup, minus the mount's root
  const rel = resolvePaths(v1, innerCgroupPath('x', 'sub/x'));
  assert.is(rel.cpu, '/sys/fs/cgroup/cpu,cpuacct/a/sub/x');
  assert.is(rel.memory, '/cg dir/memory/a/sub/x');
  assert.is(rel.devices, '/sys/fs/cgroup/devices/b/sub/x');
  assert.not.ok('' in rel);
});

test('no cgroup mount at all is a clear error', () => {
  assert.throws(() => detectLayout({ mountinfo: '1 0 0:1 / / rw - ext4 /dev/sda rw\n', procCgroup: '' }), /no cgroup hierarchy is mounted/);
});

test('paths: default /tsrun/<id>, absolute, relative; the unified key "" in hybrid', () => {
  const l = detectLayout({ mountinfo: HYBRID, procCgroup: HYBRID_SELF, fs: fsWith({}) });
  const d = resolvePaths(l, innerCgroupPath('c1'));
  assert.is(d.memory, '/sys/fs/cgroup/memory/tsrun/c1');
  assert.is(d['name=systemd'], '/sys/fs/cgroup/systemd/tsrun/c1');
  assert.is(d[''], '/sys/fs/cgroup/unified/tsrun/c1');
  const abs = resolvePaths(l, innerCgroupPath('c1', '/machine/../a/b'));
  assert.is(abs.cpu, '/sys/fs/cgroup/cpu/a/b');
  const rel = resolvePaths(l, innerCgroupPath('c1', '../../escape'));
  assert.is(rel.memory, '/sys/fs/cgroup/memory/process_api/abc/escape', '.. cannot climb above the own cgroup');
  assert.is(rel.cpu, '/sys/fs/cgroup/cpu/escape');
  assert.throws(() => innerCgroupPath('c1', '/'), /root cgroup/);
});

test('parseProcCgroup splits co-mounted controllers', () => {
  assert.equal(parseProcCgroup('5:cpu,cpuacct:/x\n0::/y\n'), { cpu: '/x', cpuacct: '/x', '': '/y' });
});

test('--systemd-cgroup: a clear error when systemd is not running', () => {
  assert.throws(
    () => createCgroupManager({ id: 'x', systemd: true, systemdRunning: () => false }),
    (e: Error) => e instanceof CgroupError && e.message === 'systemd cgroup driver requested but systemd is not running (no /run/systemd/system)',
  );
  assert.throws(() => createCgroupManager({ id: 'x', systemd: true, systemdRunning: () => true }), /only has the cgroupfs driver/);
});

test.run();
