import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseMountOptions, MOUNT_ATTR } from '../../runtime/rootfs/options.js';
import { MS } from '../../runtime/sys/constants.js';

const flagsOf = (...o: string[]) => parseMountOptions(o).flags;

test('each setting option sets its MS_* flag', () => {
  const table: [string, number][] = [
    ['ro', MS.RDONLY], ['nosuid', MS.NOSUID], ['nodev', MS.NODEV], ['noexec', MS.NOEXEC],
    ['sync', MS.SYNCHRONOUS], ['remount', MS.REMOUNT], ['mand', MS.MANDLOCK], ['dirsync', MS.DIRSYNC],
    ['nosymfollow', MS.NOSYMFOLLOW], ['noatime', MS.NOATIME], ['nodiratime', MS.NODIRATIME],
    ['bind', MS.BIND], ['rbind', MS.BIND | MS.REC], ['relatime', MS.RELATIME],
    ['strictatime', MS.STRICTATIME], ['silent', MS.SILENT], ['iversion', MS.I_VERSION], ['lazytime', MS.LAZYTIME],
  ];
  for (const [o, f] of table) assert.is(flagsOf(o), f, o);
});

test('each clearing option clears the flag and records that it did', () => {
  const table: [string, string, number][] = [
    ['ro', 'rw', MS.RDONLY], ['nosuid', 'suid', MS.NOSUID], ['nodev', 'dev', MS.NODEV],
    ['noexec', 'exec', MS.NOEXEC], ['sync', 'async', MS.SYNCHRONOUS], ['mand', 'nomand', MS.MANDLOCK],
    ['noatime', 'atime', MS.NOATIME], ['nodiratime', 'diratime', MS.NODIRATIME],
    ['relatime', 'norelatime', MS.RELATIME], ['strictatime', 'nostrictatime', MS.STRICTATIME],
    ['nosymfollow', 'symfollow', MS.NOSYMFOLLOW], ['silent', 'loud', MS.SILENT],
    ['iversion', 'noiversion', MS.I_VERSION], ['lazytime', 'nolazytime', MS.LAZYTIME],
  ];
  for (const [set, clear, f] of table) {
    const r = parseMountOptions([set, clear]);
    assert.is(r.flags & f, 0, `${set},${clear}`);
    assert.is(r.clearedFlags & f, f, `${clear} recorded`);
    const back = parseMountOptions([clear, set]);
    assert.is(back.flags & f, f, `${clear},${set}: the later option wins`);
    assert.is(back.clearedFlags & f, 0);
  }
});

test('defaults is a no-op, not filesystem data', () => {
  const r = parseMountOptions(['defaults']);
  assert.is(r.flags, 0);
  assert.equal(r.data, []);
});

test('propagation options keep their order', () => {
  const r = parseMountOptions(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']);
  assert.equal(r.propagation, [
    MS.PRIVATE, MS.PRIVATE | MS.REC, MS.SHARED, MS.SHARED | MS.REC, MS.SLAVE, MS.SLAVE | MS.REC,
    MS.UNBINDABLE, MS.UNBINDABLE | MS.REC,
  ]);
  assert.is(r.flags, 0);
});

test('unknown options become data in order; acl is data (runc #3738)', () => {
  const r = parseMountOptions(['nosuid', 'mode=755', 'size=65536k', 'acl', 'newinstance', 'ptmxmode=0666']);
  assert.equal(r.data, ['mode=755', 'size=65536k', 'acl', 'newinstance', 'ptmxmode=0666']);
  assert.is(r.flags, MS.NOSUID);
  assert.equal(r.suspectPropagation, []);
});

test('a misspelt propagation value is flagged, real fs options are not', () => {
  assert.equal(parseMountOptions(['rshard']).suspectPropagation, ['rshard']);
  assert.equal(parseMountOptions(['rprivte']).suspectPropagation, ['rprivte']);
  assert.equal(parseMountOptions(['slav']).suspectPropagation, []); // too short to judge: data
  assert.equal(parseMountOptions(['discard', 'inode64', 'nouuid', 'usrquota', 'errors=remount-ro']).suspectPropagation, []);
});

test('recursive r* options become mount_setattr attributes', () => {
  const r = parseMountOptions(['rro', 'rnosuid', 'rnodev', 'rnoexec', 'rnosymfollow', 'rnodiratime']);
  assert.is(r.recAttrSet, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NOSYMFOLLOW | MOUNT_ATTR.NODIRATIME);
  assert.is(r.recAttrClr, 0);
  const c = parseMountOptions(['rro', 'rrw', 'rsuid', 'rdev', 'rexec', 'rsymfollow', 'rdiratime']);
  assert.is(c.recAttrSet, 0);
  assert.is(c.recAttrClr, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NOSYMFOLLOW | MOUNT_ATTR.NODIRATIME);
  const a = parseMountOptions(['rnoatime']);
  assert.is(a.recAttrSet, MOUNT_ATTR.NOATIME);
  assert.is(a.recAttrClr, MOUNT_ATTR.ATIME_MASK, 'an atime value needs MOUNT_ATTR__ATIME cleared');
  for (const o of ['rrelatime', 'rstrictatime', 'ratime', 'rnorelatime', 'rnostrictatime']) {
    assert.is(parseMountOptions([o]).recAttrClr & MOUNT_ATTR.ATIME_MASK, MOUNT_ATTR.ATIME_MASK, o);
  }
  assert.is(parseMountOptions(['rrelatime']).recAttrSet, 0, 'RELATIME is the 0 value of the atime field');
  assert.is(parseMountOptions(['rstrictatime']).recAttrSet, MOUNT_ATTR.STRICTATIME);
});

test('tmpcopyup, idmap, ridmap, X-mount.idmap are recognised', () => {
  assert.ok(parseMountOptions(['tmpcopyup']).tmpcopyup);
  assert.is(parseMountOptions(['idmap']).idmap, 'idmap');
  assert.is(parseMountOptions(['ridmap']).idmap, 'ridmap');
  assert.is(parseMountOptions(['X-mount.idmap=0:1000:1']).idmap, 'idmap');
});

test('X-mount.* and x-* userspace options never reach the kernel', () => {
  const r = parseMountOptions(['X-mount.mkdir', 'x-systemd.automount', 'X-mount.mode=0755', 'size=1m']);
  assert.equal(r.ignored, ['X-mount.mkdir', 'x-systemd.automount', 'X-mount.mode=0755']);
  assert.equal(r.data, ['size=1m']);
});

test.run();
