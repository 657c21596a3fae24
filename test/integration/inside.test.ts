// What a process sees inside a tsrun container, checked from inside, and compared with runc on the
// same bundle where the two should agree.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Sandbox, TSRUN, run } from '../support/containers.js';
import { makeBusyboxRootfs } from '../support/busybox-rootfs.js';
import type { Spec } from '../../spec/types.js';

const t = suite('inside');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

function inside(script: string, edit?: (s: Spec) => void, extra: string[] = []): { code: number; out: string; err: string } {
  const r = sb.tsrun(['run', ...extra, '--bundle', sb.bundle(['sh', '-c', script], edit), sb.id()]);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

t('hostname, domainname and new namespaces', () => {
  const r = inside('hostname; cat /proc/sys/kernel/domainname; for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done', (s) => {
    s.domainname = 'example.test';
  });
  assert.is(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.is(lines[0], 'tsrun-test');
  assert.is(lines[1], 'example.test');
  const host = ['pid', 'mnt', 'uts', 'ipc', 'net'].map((n) => readlinkSync(`/proc/self/ns/${n}`));
  lines.slice(2).forEach((ns, i) => assert.is.not(ns, host[i], `new ${ns}`));
});

t('joining an existing namespace by path', () => {
  // A process of our own in a fresh network namespace, joined by /proc/PID/ns/net.
  const holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
  try {
    let target = '';
    for (let i = 0; i < 100 && (!target || target === readlinkSync('/proc/self/ns/net')); i++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      target = readlinkSync(`/proc/${holder.pid}/ns/net`);
    }
    const r = inside('readlink /proc/self/ns/net', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${holder.pid}/ns/net` } : n));
    });
    assert.is(r.code, 0, r.err);
    assert.is(r.out.trim(), target);
  } finally {
    holder.kill('SIGKILL');
  }
});

t('mounts: proc, /dev tmpfs, devpts, shm, mqueue, sysfs, and the root is the bundle rootfs', () => {
  const r = inside('cat /proc/self/mountinfo');
  assert.is(r.code, 0, r.err);
  const byDest = new Map(r.out.trim().split('\n').map((l) => {
    const f = l.split(' ');
    const sep = f.indexOf('-');
    return [f[4], { fstype: f[sep + 1], opts: f[5] }];
  }));
  assert.is(byDest.get('/proc')?.fstype, 'proc');
  assert.is(byDest.get('/dev')?.fstype, 'tmpfs');
  assert.is(byDest.get('/dev/pts')?.fstype, 'devpts');
  assert.is(byDest.get('/dev/shm')?.fstype, 'tmpfs');
  assert.is(byDest.get('/dev/mqueue')?.fstype, 'mqueue');
  assert.is(byDest.get('/sys')?.fstype, 'sysfs');
  assert.match(byDest.get('/sys')!.opts, /^ro/);
  assert.match(byDest.get('/')!.opts, /^ro/, 'root.readonly');
});

t('default devices and /dev symlinks', () => {
  const r = inside('for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$d; done; for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done; echo x > /dev/null && head -c 4 /dev/zero | wc -c');
  assert.is(r.code, 0, r.err);
  const out = r.out;
  assert.match(out, '/dev/null character special file 1:3 666');
  assert.match(out, '/dev/zero character special file 1:5 666');
  assert.match(out, '/dev/full character special file 1:7 666');
  assert.match(out, '/dev/random character special file 1:8 666');
  assert.match(out, '/dev/urandom character special file 1:9 666');
  assert.match(out, '/dev/tty character special file 5:0 666');
  assert.match(out, 'fd -> /proc/self/fd');
  assert.match(out, 'stdin -> /proc/self/fd/0');
  assert.match(out, 'stdout -> /proc/self/fd/1');
  assert.match(out, 'stderr -> /proc/self/fd/2');
  assert.match(out, 'ptmx -> pts/ptmx');
  assert.match(out, /\n4\n$/);
});

t('linux.devices creates the requested node', () => {
  const r = inside('stat -c "%F %t:%T %a %u:%g" /dev/tsrun-loop', (s) => {
    s.linux!.devices = [{ path: '/dev/tsrun-loop', type: 'b', major: 7, minor: 200, fileMode: 0o640, uid: 0, gid: 6 }];
    s.linux!.resources = { devices: [{ allow: true, access: 'rwm' }] };
  });
  assert.is(r.code, 0, r.err);
  assert.is(r.out.trim(), 'block special file 7:c8 640 0:6');
});

t('masked and readonly paths', () => {
  const r = inside('wc -c < /proc/timer_list; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo WROTE || echo DENIED; (echo 1 > /proc/sysrq-trigger) 2>/dev/null && echo WROTE || echo DENIED', (s) => {
    s.linux!.maskedPaths = ['/proc/timer_list', '/sys/firmware', '/proc/no-such-file'];
  });
  assert.is(r.code, 0, r.err);
  assert.equal(r.out.trim().split('\n').map((l) => l.trim()), ['0', '0', 'DENIED', 'DENIED']);
});

t('process: cwd, env, user, additional gids, umask', () => {
  const r = inside('pwd; echo $FOO; id -u; id -g; id -G; umask', (s) => {
    s.process!.cwd = '/tmp';
    s.process!.env = ['PATH=/bin', 'FOO=bar baz'];
    s.process!.user = { uid: 1000, gid: 1001, additionalGids: [1002, 1003], umask: 0o027 };
  });
  assert.is(r.code, 0, r.err);
  assert.is(r.out, '/tmp\nbar baz\n1000\n1001\n1001 1002 1003\n0027\n');
});

t('user namespace: uid_map and gid_map as configured', () => {
  const r = inside('cat /proc/self/uid_map /proc/self/gid_map; id -u', (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    // the shared rootfs belongs to host root: in the user ns it shows as nobody; keep it read-only
    s.mounts = s.mounts!.filter((m) => m.type !== 'cgroup');
  });
  assert.is(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.equal(lines, ['0 100000 65536', '0 200000 65536', '0']);
});

t('--no-pivot: MS_MOVE + chroot', () => {
  const r = inside('cat /etc/hostname; echo pid=$$', undefined, ['--no-pivot']);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, 'busybox\npid=1\n');
});

t('recursive mount options: "rro" makes submounts read-only too, "ro" does not (as runc)', () => {
  // The bind source has a submount, made in a private mount namespace that ends with the command.
  const src = join(sb.dir, 'rro-src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  const script = 'for p in /ro /ro/sub /rro /rro/sub; do touch $p/f 2>/dev/null && echo $p=rw || echo $p=ro; done';
  const bundle = sb.bundle(['sh', '-c', script], (s) => {
    s.mounts!.push({ destination: '/ro', type: 'bind', source: src, options: ['rbind', 'ro'] });
    s.mounts!.push({ destination: '/rro', type: 'bind', source: src, options: ['rbind', 'rro'] });
  });
  const inPrivateNs = (cli: string) => run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs ${src}/sub && exec ${cli} run --bundle ${bundle} $0`, sb.id(cli.includes('runc') ? 'runc' : 'c')]);
  const r = inPrivateNs(`${TSRUN} --root ${sb.root}`);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '/ro=ro\n/ro/sub=rw\n/rro=ro\n/rro/sub=ro\n');
  assert.is(inPrivateNs(`runc --root ${join(sb.dir, 'runc-state')}`).stdout, r.stdout);
});

t('tmpcopyup: the tmpfs over /etc starts with its files, owners, modes and links (as runc)', () => {
  const script = [
    'grep " /etc " /proc/mounts | cut -d" " -f3',
    'stat -c "%n %a %u:%g" /etc /etc/passwd /etc/owned',
    'readlink /etc/mtab-link',
    'cat /etc/hostname',
    'touch /etc/new && echo writable',
  ].join('; ');
  const bundle = sb.bundle(['sh', '-c', script], (s) => {
    s.mounts!.push({ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'tmpcopyup'] });
  });
  // An own rootfs: the image's /etc gets a symlink and a file with other owners and modes.
  const rootfs = join(sb.dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  symlinkSync('/proc/mounts', join(rootfs, 'etc/mtab-link'));
  writeFileSync(join(rootfs, 'etc/owned'), '');
  chownSync(join(rootfs, 'etc/owned'), 1000, 1001);
  chmodSync(join(rootfs, 'etc/owned'), 0o640);
  const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  config.root = { path: rootfs };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'tmpfs\n/etc 755 0:0\n/etc/passwd 644 0:0\n/etc/owned 640 1000:1001\n/proc/mounts\nbusybox\nwritable\n');
  assert.is(sb.runc(['run', '--bundle', bundle, sb.id('runc')]).stdout, r.stdout);
  assert.not.ok(existsSync(join(rootfs, 'etc/new')), 'writes go to the tmpfs, not the image');
});

t('same as runc: exit codes, hostname, capabilities, mount points', () => {
  const script = 'hostname; grep -E "^(CapBnd|CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs)" /proc/self/status; cut -d" " -f5 /proc/self/mountinfo | sort; exit 7';
  const bundle = sb.bundle(['sh', '-c', script]);
  const ours = sb.tsrun(['run', '--bundle', bundle, sb.id('ours')]);
  const runc = sb.runc(['run', '--bundle', bundle, sb.id('runc')]);
  assert.is(runc.code, 7, runc.stderr);
  assert.is(ours.code, 7, ours.stderr);
  assert.is(ours.stdout, runc.stdout);
});

t.run();
