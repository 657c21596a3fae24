import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planRootfs, RootfsConfigError, type PlannedMount, type RootfsOptions } from '../../runtime/rootfs/index.js';
import type { CgroupLayout } from '../../runtime/cgroups/layout.js';
import { detectLayout } from '../../runtime/cgroups/layout.js';
import { MemoryCgroupFs } from '../../runtime/cgroups/cgroup-fs.js';
import { cgroupMountLayout } from '../../runtime/rootfs/cgroup-layout.js';
import { MS, S } from '../../runtime/sys/constants.js';
import type { Spec } from '../../spec/types.js';

const t = suite('rootfs plan');
let dir = '';
let runcSpec: Spec;
// A hybrid host as the cgroup manager detects it, and the container's cgroups as its paths().
const hybridHost: CgroupLayout = {
  mode: 'hybrid',
  v1: {
    cpu: { mountpoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/' },
    cpuacct: { mountpoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/' },
    memory: { mountpoint: '/sys/fs/cgroup/memory', root: '/' },
    'name=systemd': { mountpoint: '/sys/fs/cgroup/systemd', root: '/' },
  },
  unified: { mountpoint: '/sys/fs/cgroup/unified', root: '/', controllers: [] },
  own: { cpu: '/', cpuacct: '/', memory: '/', 'name=systemd': '/', '': '/' },
};
const containerPaths = {
  cpu: '/sys/fs/cgroup/cpu,cpuacct/tsrun/x', cpuacct: '/sys/fs/cgroup/cpu,cpuacct/tsrun/x', memory: '/sys/fs/cgroup/memory/tsrun/x',
  'name=systemd': '/sys/fs/cgroup/systemd/tsrun/x', '': '/sys/fs/cgroup/unified/tsrun/x',
};

function opts(extra: Partial<RootfsOptions> = {}): RootfsOptions {
  return { bundle: dir, rootfs: join(dir, 'rootfs'), noPivot: false, userns: false, hostCgroups: hybridHost, cgroupPaths: containerPaths, hostHasKcore: true, ...extra };
}
function mounts(plan: ReturnType<typeof planRootfs>): PlannedMount[] {
  return plan.steps.filter((s): s is PlannedMount => s.op === 'mount');
}
function withMounts(m: Spec['mounts'], linux: Spec['linux'] = {}): Spec {
  return { ociVersion: '1.2.0', mounts: m, linux };
}
function throwsConfig(fn: () => unknown, jsonPath: string, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, RootfsConfigError);
    assert.is((e as RootfsConfigError).jsonPath, jsonPath);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected a RootfsConfigError at ${jsonPath}`);
}

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-test-rootfs-plan-'));
  mkdirSync(join(dir, 'rootfs'));
  execFileSync('runc', ['spec'], { cwd: dir });
  runcSpec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'afile'), 'x');
  mkdirSync(join(dir, 'adir'));
});
t.after(() => rmSync(dir, { recursive: true, force: true }));

t('runc spec: mounts, flags and data', () => {
  const plan = planRootfs(runcSpec, opts());
  const ms = mounts(plan);
  const by = (d: string) => ms.find((m) => m.destination === d)!;
  assert.equal(ms.slice(0, 6).map((m) => [m.destination, m.kind, m.fstype]), [
    ['/proc', 'proc', 'proc'], ['/dev', 'tmpfs', 'tmpfs'], ['/dev/pts', 'other', 'devpts'],
    ['/dev/shm', 'tmpfs', 'tmpfs'], ['/dev/mqueue', 'other', 'mqueue'], ['/sys', 'sysfs', 'sysfs'],
  ]);
  assert.is(by('/proc').flags, 0);
  assert.is(by('/proc').data, null);
  assert.is(by('/dev').flags, MS.NOSUID | MS.STRICTATIME);
  assert.is(by('/dev').data, 'mode=755,size=65536k');
  assert.ok(by('/dev').copyMode);
  assert.is(by('/dev/pts').flags, MS.NOSUID | MS.NOEXEC);
  assert.is(by('/dev/pts').data, 'newinstance,ptmxmode=0666,mode=0620,gid=5');
  assert.is(by('/dev/shm').data, 'mode=1777,size=65536k');
  assert.is(by('/sys').flags, MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY);
  assert.is(by('/sys').fallback, undefined, 'no sysfs fallback without a user namespace');
  assert.is(by('/dev/mqueue').rel, 'dev/mqueue');
});

t('runc spec: cgroup on a hybrid host is a tmpfs with v1 binds (no cgroup2), plus merged links', () => {
  const plan = planRootfs(runcSpec, opts());
  const cg = plan.steps.slice(6);
  const ro = MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY;
  assert.equal(cg.map((s) => (s.op === 'mount' ? [s.op, s.destination, s.source, s.fstype, s.flags, s.remountFlags] : [s.op, s.rel, s.target])), [
    ['mount', '/sys/fs/cgroup', 'tmpfs', 'tmpfs', MS.NOSUID | MS.NOEXEC | MS.NODEV, 0],
    ['mount', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct/tsrun/x', 'bind', MS.BIND | MS.REC | ro, MS.BIND | MS.REC | MS.REMOUNT | ro],
    ['mount', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/memory/tsrun/x', 'bind', MS.BIND | MS.REC | ro, MS.BIND | MS.REC | MS.REMOUNT | ro],
    ['mount', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup/systemd/tsrun/x', 'bind', MS.BIND | MS.REC | ro, MS.BIND | MS.REC | MS.REMOUNT | ro],
    ['symlink', 'sys/fs/cgroup/cpu', 'cpu,cpuacct'],
    ['symlink', 'sys/fs/cgroup/cpuacct', 'cpu,cpuacct'],
  ]);
  assert.is((cg[0] as PlannedMount).data, 'mode=755');
});

t('cgroup with a cgroup namespace on v1: cgroup mounts per hierarchy, bind as fallback', () => {
  const plan = planRootfs(runcSpec, opts({ cgroupns: true }));
  const cg = mounts(plan).filter((m) => m.destination.startsWith('/sys/fs/cgroup/'));
  assert.equal(cg.map((m) => [m.source, m.fstype, m.data, m.flags]), [
    ['cgroup', 'cgroup', 'cpu,cpuacct', MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY],
    ['cgroup', 'cgroup', 'memory', MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY],
    ['systemd', 'cgroup', 'name=systemd', MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY],
  ]);
  assert.is(cg[1].fallback?.source, '/sys/fs/cgroup/memory/tsrun/x');
  assert.equal(cg[1].fallbackOn, ['EPERM', 'EBUSY']);
});

t('cgroup on a v2 host: cgroup2, falling back to a bind of /sys/fs/cgroup (or the own cgroup with a cgroupns)', () => {
  const v2: CgroupLayout = { mode: 'v2', v1: {}, unified: { mountpoint: '/sys/fs/cgroup', root: '/', controllers: ['memory'] }, own: { '': '/user.slice' } };
  const v2Opts = { hostCgroups: v2, cgroupPaths: { '': '/sys/fs/cgroup/tsrun/x' } };
  const [m] = mounts(planRootfs(withMounts([{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid'] }]), opts(v2Opts)));
  assert.is(m.fstype, 'cgroup2');
  assert.is(m.flags, MS.RDONLY | MS.NOSUID);
  assert.is(m.fallback?.source, '/sys/fs/cgroup');
  assert.is(m.fallback?.remountFlags, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID);
  const [n] = mounts(planRootfs(withMounts([{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' }]), opts({ ...v2Opts, cgroupns: true })));
  assert.is(n.fallback?.source, '/sys/fs/cgroup/tsrun/x');
});

t('cgroupMountLayout over the detected host: hybrid host, v1 only, container paths in both forms; v2', () => {
  const mountinfo = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');
  const procCgroup = '9:name=systemd:/\n4:memory:/a\n2:cpu,cpuacct:/\n0::/\n';
  const fs = new MemoryCgroupFs();
  const host = detectLayout({ mountinfo, procCgroup, fs });
  const l = cgroupMountLayout(host, { memory: '/sys/fs/cgroup/memory/tsrun/c1', cpu: '/tsrun/c1' });
  assert.is(l.mode, 'hybrid');
  assert.equal(l.v1.map((h) => [h.mountpoint, h.subsystems, h.hostPath]), [
    ['/sys/fs/cgroup/cpu,cpuacct', ['cpu', 'cpuacct'], '/sys/fs/cgroup/cpu,cpuacct/tsrun/c1'],
    ['/sys/fs/cgroup/memory', ['memory'], '/sys/fs/cgroup/memory/tsrun/c1'],
    ['/sys/fs/cgroup/systemd', ['name=systemd'], '/sys/fs/cgroup/systemd'],
  ]);
  const v1Only = cgroupMountLayout(detectLayout({ mountinfo: mountinfo.split('\n').slice(0, 4).join('\n'), procCgroup, fs }));
  assert.is(v1Only.mode, 'v1');
  assert.equal(v1Only.v1.map((h) => h.hostPath), ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory/a', '/sys/fs/cgroup/systemd']);
  const v2 = cgroupMountLayout(detectLayout({ mountinfo: '30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw', procCgroup: '0::/user.slice\n', fs }));
  assert.is(v2.mode, 'v2');
  assert.is(v2.v2Path, '/sys/fs/cgroup/user.slice');
  assert.is(cgroupMountLayout(detectLayout({ mountinfo: '30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw', procCgroup: '0::/user.slice\n', fs }), { '': '/sys/fs/cgroup/tsrun/c9' }).v2Path, '/sys/fs/cgroup/tsrun/c9');
});

t('runc spec: default devices, /dev links, masked and readonly paths, readonly root', () => {
  const plan = planRootfs(runcSpec, opts());
  assert.ok(plan.setupDev);
  assert.not.ok(plan.bindDevices);
  assert.equal(plan.devices.map((d) => [d.path, d.mode, d.major, d.minor]), [
    ['/dev/null', S.IFCHR | 0o666, 1, 3], ['/dev/zero', S.IFCHR | 0o666, 1, 5], ['/dev/full', S.IFCHR | 0o666, 1, 7],
    ['/dev/random', S.IFCHR | 0o666, 1, 8], ['/dev/urandom', S.IFCHR | 0o666, 1, 9], ['/dev/tty', S.IFCHR | 0o666, 5, 0],
  ]);
  assert.equal(plan.devSymlinks, [
    { target: '/proc/self/fd', rel: 'dev/fd' }, { target: '/proc/self/fd/0', rel: 'dev/stdin' },
    { target: '/proc/self/fd/1', rel: 'dev/stdout' }, { target: '/proc/self/fd/2', rel: 'dev/stderr' },
    { target: '/proc/kcore', rel: 'dev/core' },
  ]);
  assert.equal(plan.maskedPaths, runcSpec.linux!.maskedPaths);
  assert.equal(plan.readonlyPaths, runcSpec.linux!.readonlyPaths);
  assert.ok(plan.readonlyRoot);
  assert.equal(plan.readonlyRemounts, [], 'no tmpfs asked ro');
  assert.is(plan.rootPropagation, MS.SLAVE | MS.REC);
  assert.is(plan.parentPropagation, MS.PRIVATE);
  assert.is(plan.postPivotPropagation, 0);
  assert.is(plan.pivot, 'pivot_root');
  assert.equal(plan.parentCandidates.at(-1), '/');
  assert.is(plan.parentCandidates[0], plan.rootfs);
  assert.is(plan.cwd, '/');
  const noKcore = planRootfs(runcSpec, opts({ hostHasKcore: false }));
  assert.not.ok(noKcore.devSymlinks.some((l) => l.rel === 'dev/core'));
  const noProc = planRootfs({ ...runcSpec, mounts: runcSpec.mounts!.slice(1) }, opts());
  assert.not.ok(noProc.devSymlinks.some((l) => l.rel === 'dev/core'), '/dev/core only with a /proc mount');
});

t('linux.devices: merged with the defaults (spec wins), modes and types, ptmx dropped', () => {
  const plan = planRootfs(withMounts([], {
    devices: [
      { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o600, uid: 0, gid: 0 },
      { type: 'b', path: '/dev/loop0', major: 7, minor: 0 },
      { type: 'p', path: '/dev/myfifo' },
      { type: 'u', path: '/dev/sub/x', major: 10, minor: 200, uid: 5, gid: 6 },
      { type: 'c', path: '/dev/ptmx', major: 5, minor: 2 },
    ],
  }), opts({ userns: true }));
  assert.ok(plan.bindDevices);
  assert.equal(plan.devices.map((d) => [d.path, d.mode, d.major, d.minor, d.parentRel, d.name, d.uid, d.gid]), [
    ['/dev/zero', S.IFCHR | 0o666, 1, 5, 'dev', 'zero', 0, 0],
    ['/dev/full', S.IFCHR | 0o666, 1, 7, 'dev', 'full', 0, 0],
    ['/dev/random', S.IFCHR | 0o666, 1, 8, 'dev', 'random', 0, 0],
    ['/dev/urandom', S.IFCHR | 0o666, 1, 9, 'dev', 'urandom', 0, 0],
    ['/dev/tty', S.IFCHR | 0o666, 5, 0, 'dev', 'tty', 0, 0],
    ['/dev/null', S.IFCHR | 0o600, 1, 3, 'dev', 'null', 0, 0],
    ['/dev/loop0', S.IFBLK | 0o666, 7, 0, 'dev', 'loop0', 0, 0],
    ['/dev/myfifo', S.IFIFO | 0o666, 0, 0, 'dev', 'myfifo', 0, 0],
    ['/dev/sub/x', S.IFCHR | 0o666, 10, 200, 'dev/sub', 'x', 5, 6],
  ]);
});

t('bind mounts: file vs directory destination, relative source from the bundle, remount flags', () => {
  const plan = planRootfs(withMounts([
    { destination: '/etc/hostname', source: join(dir, 'afile'), options: ['bind', 'ro'] },
    { destination: '/data', source: 'adir', type: 'none', options: ['rbind', 'rprivate'] },
    { destination: '/data2', source: 'adir', options: ['bind', 'rw', 'slave'] },
  ]), opts());
  const [f, d, d2] = mounts(plan);
  assert.is(f.kind, 'bind');
  assert.ok(f.dstIsFile);
  assert.is(f.flags, MS.BIND | MS.RDONLY);
  assert.is(f.remountFlags, MS.BIND | MS.REMOUNT | MS.RDONLY);
  assert.not.ok(d.dstIsFile);
  assert.is(d.source, join(dir, 'adir'));
  assert.is(d.fstype, 'bind');
  assert.is(d.remountFlags, 0, 'no flags asked: the bind keeps the source flags');
  assert.equal(d.propagation, [MS.PRIVATE | MS.REC]);
  assert.is(d2.remountFlags, MS.BIND | MS.REMOUNT, 'an explicit "rw" needs the remount (it clears MS_RDONLY)');
  assert.is(d2.clearedFlags, MS.RDONLY);
  assert.equal(d2.propagation, [MS.SLAVE]);
});

t('a "ro" tmpfs and /dev are mounted rw and remounted read-only in finishRootfs', () => {
  const plan = planRootfs(withMounts([
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'nosuid'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs' },
  ]), opts());
  assert.equal(mounts(plan).map((m) => m.flags), [MS.NOSUID, 0, 0]);
  assert.equal(plan.readonlyRemounts, [
    { destination: '/dev', flags: MS.RDONLY | MS.NOSUID }, { destination: '/tmp', flags: MS.RDONLY },
  ]);
});

t('a bind of /dev turns off device setup', () => {
  const plan = planRootfs(withMounts([{ destination: '/dev', source: '/dev', options: ['rbind'] }]), opts());
  assert.not.ok(plan.setupDev);
  assert.equal(plan.devices, []);
  assert.equal(plan.devSymlinks, []);
});

t('sysfs in a user namespace falls back to an rbind of /sys on EPERM', () => {
  const [m] = mounts(planRootfs(withMounts([{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro', 'nosuid'] }]), opts({ userns: true })));
  assert.equal(m.fallbackOn, ['EPERM']);
  assert.is(m.fallback?.source, '/sys');
  assert.is(m.fallback?.flags, MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID);
  assert.is(m.fallback?.remountFlags, MS.BIND | MS.REC | MS.REMOUNT | MS.RDONLY | MS.NOSUID);
});

t('rootfsPropagation: slave/private handled before, shared after the pivot', () => {
  const p = (v: string) => planRootfs(withMounts([], { rootfsPropagation: v as 'shared' }), opts());
  assert.is(p('rslave').rootPropagation, MS.SLAVE | MS.REC);
  assert.is(p('rslave').parentPropagation, MS.SLAVE);
  assert.is(p('rslave').postPivotPropagation, 0);
  assert.is(p('private').parentPropagation, MS.PRIVATE);
  assert.is(p('rshared').rootPropagation, MS.SHARED | MS.REC);
  assert.is(p('rshared').postPivotPropagation, MS.SHARED | MS.REC);
  assert.is(p('runbindable').postPivotPropagation, MS.UNBINDABLE | MS.REC);
});

t('no-pivot: host proc/sysfs mounts outside the rootfs are listed for hiding', () => {
  const plan = planRootfs(withMounts([]), opts({ noPivot: true }));
  assert.is(plan.pivot, 'move');
  assert.ok(plan.noPivotHide.includes('/proc'));
  assert.ok(plan.noPivotHide.includes('/sys'));
  assert.is(planRootfs(withMounts([]), opts({ noPivot: true, hostProcSysMounts: ['/x'] })).noPivotHide[0], '/x');
});

t('rootfs path: a symlink on the way is refused, as runc does; "..", "." and a trailing slash are fine', () => {
  symlinkSync(join(dir, 'rootfs'), join(dir, 'rootfs-link'));
  throwsConfig(() => planRootfs(withMounts([]), opts({ rootfs: join(dir, 'rootfs-link') })), 'root.path', /goes through a symlink \(it is ".*\/rootfs"\)/);
  for (const same of [`${dir}/rootfs/`, `${dir}/./rootfs`, `${dir}/rootfs/../rootfs`]) {
    assert.is(planRootfs(withMounts([]), opts({ rootfs: same })).rootfs, join(dir, 'rootfs'), same);
  }
});

t('bad input names its JSON path', () => {
  const p = (m: Spec['mounts'], linux: Spec['linux'] = {}, o: Partial<RootfsOptions> = {}) => () => planRootfs(withMounts(m, linux), opts(o));
  throwsConfig(p([{ destination: '/a', type: 'tmpfs' }, {}, { destination: '/x', source: 'adir', options: ['bind'] }, { destination: '/y', source: 'adir', options: ['bind', 'rshard'] }] as never),
    'mounts[1].destination', /required/);
  throwsConfig(p([{ destination: '/y', source: 'adir', options: ['bind', 'rshard'] }]), 'mounts[0].options', /unknown propagation "rshard"/);
  throwsConfig(p([{ destination: 'relative/dir', type: 'tmpfs' }]), 'mounts[0].destination', /"relative\/dir" is not an absolute path/);
  throwsConfig(p([{ destination: '/..', type: 'tmpfs' }]), 'mounts[0].destination', /container root/);
  throwsConfig(p([{ destination: '/x', source: 'missing', options: ['bind'] }]), 'mounts[0].source', /ENOENT/);
  throwsConfig(p([{ destination: '/x', options: ['bind'] }]), 'mounts[0].source', /required/);
  throwsConfig(p([{ destination: '/x', source: 'adir', options: ['bind', 'tmpcopyup'] }]), 'mounts[0].options', /tmpcopyup" applies to tmpfs mounts only/);
  throwsConfig(p([{ destination: '/x', source: 'adir', options: ['bind', 'idmap'] }]), 'mounts[0].options', /needs uidMappings and gidMappings/);
  throwsConfig(p([{ destination: '/x', type: 'tmpfs', options: ['idmap'] }]), 'mounts[0].options', /need a bind mount/);
  throwsConfig(p([{ destination: '/proc/sys', type: 'tmpfs' }]), 'mounts[0].destination', /inside \/proc/);
  throwsConfig(p([{ destination: '/proc', type: 'tmpfs' }]), 'mounts[0].destination', /only a procfs/);
  throwsConfig(p([{ destination: '/x\0', type: 'tmpfs' }]), 'mounts[0].destination', /NUL/);
  throwsConfig(p([], { rootfsPropagation: 'rshard' as never }), 'linux.rootfsPropagation', /unknown propagation "rshard"/);
  throwsConfig(p([], { maskedPaths: ['/ok', 'proc/kcore'] }), 'linux.maskedPaths[1]', /not an absolute path/);
  throwsConfig(p([], { readonlyPaths: ['x'] }), 'linux.readonlyPaths[0]', /not an absolute path/);
  throwsConfig(p([], { devices: [{ type: 'x' as never, path: '/dev/x', major: 1, minor: 1 }] }), 'linux.devices[0].type', /unknown device type/);
  throwsConfig(p([], { devices: [{ type: 'c', path: '/dev/x' }] }), 'linux.devices[0]', /major and minor/);
  throwsConfig(p([], { devices: [{ type: 'c', path: 'dev/x', major: 1, minor: 1 }] }), 'linux.devices[0].path', /absolute/);
  throwsConfig(p([], {}, { rootfs: join(dir, 'nope') }), 'root.path', /ENOENT/);
  // Allowed below /proc: what lxcfs provides, and a procfs bind over /proc.
  planRootfs(withMounts([{ destination: '/proc/meminfo', source: join(dir, 'afile'), options: ['bind'] }]), opts());
  planRootfs(withMounts([{ destination: '/proc', source: '/proc', options: ['rbind'] }]), opts());
});

t('X-mount options are dropped with a warning', () => {
  const plan = planRootfs(withMounts([{ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['X-mount.mkdir', 'size=1m'] }]), opts());
  assert.is(mounts(plan)[0].data, 'size=1m');
  assert.match(plan.warnings[0], /mounts\[0\]\.options: "X-mount.mkdir" ignored/);
});

t("idmapped binds: the mount's own mappings, else the container's; ridmap is recursive", () => {
  const ct = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const own = [{ containerID: 0, hostID: 101000, size: 1 }];
  const plan = planRootfs(withMounts([
    { destination: '/a', source: 'adir', options: ['bind', 'idmap'] },
    { destination: '/b', source: 'adir', options: ['rbind', 'ridmap'], uidMappings: own, gidMappings: own },
  ]), opts({ idMappings: { uid: ct, gid: ct } }));
  const [a, b] = mounts(plan).filter((m) => m.idmap);
  assert.equal(a.idmap, { recursive: false, uidMappings: ct, gidMappings: ct });
  assert.equal(b.idmap, { recursive: true, uidMappings: own, gidMappings: own });
  assert.is(b.flags & MS.REC, MS.REC, 'rbind clones the whole tree');
});

t.run();
