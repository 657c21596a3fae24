// User namespaces created by tsrun running as root: several id ranges, written by the parent while
// stage 1 waits; files the container creates show the mapped owners on the host. Same as runc.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../support/containers.js';
import type { Spec } from '../../spec/types.js';

const t = suite('security-userns');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

const MAPS = [
  { containerID: 0, hostID: 100000, size: 1000 },
  { containerID: 1000, hostID: 200000, size: 1000 },
];

function userns(data: string, uid = 0) {
  return (s: Spec) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = structuredClone(MAPS);
    s.linux!.gidMappings = structuredClone(MAPS);
    s.process!.user = { uid, gid: uid };
    s.mounts!.push({ destination: '/tmp', type: 'bind', source: data, options: ['rbind', 'rw'] });
  };
}

function dataDir(): string {
  const dir = join(sb.dir, 'data');
  mkdirSync(dir, { recursive: true });
  chmodSync(sb.dir, 0o755);
  chmodSync(dir, 0o1777);
  return dir;
}

t('several ranges: uid_map, gid_map, setgroups as runc writes them', () => {
  const data = dataDir();
  const bundle = sb.bundle(['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id'], userns(data));
  const ts = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(ts.code, 0, ts.stderr);
  const lines = ts.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.equal(lines.slice(0, 4), ['0 100000 1000', '1000 200000 1000', '0 100000 1000', '1000 200000 1000']);
  assert.is(lines[4], 'allow', 'root may keep setgroups');
  assert.match(lines[5], /^uid=0\(root\) gid=0\(root\)/);
  const runc = sb.runc(['run', '--bundle', bundle, sb.id('runc')]);
  assert.is(runc.code, 0, runc.stderr);
  assert.is(ts.stdout, runc.stdout);
});

t('files the container creates have the mapped owners on the host', () => {
  const data = dataDir();
  const root = sb.tsrun(['run', '--bundle', sb.bundle(['touch', '/tmp/by-root'], userns(data)), sb.id()]);
  assert.is(root.code, 0, root.stderr);
  const user = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'id -u; touch /tmp/by-1500'], userns(data, 1500)), sb.id()]);
  assert.is(user.code, 0, user.stderr);
  assert.is(user.stdout, '1500\n');
  const a = statSync(join(data, 'by-root'));
  assert.equal([a.uid, a.gid], [100000, 100000]);
  const b = statSync(join(data, 'by-1500'));
  assert.equal([b.uid, b.gid], [200500, 200500], 'container 1500 is host 200000 + 500');
});

t('a process user outside the mappings fails create naming process.user', () => {
  const data = dataDir();
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['true'], userns(data, 5000)), sb.id()]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /process.user.uid.*not mapped/);
});

t('exec joins the user namespace: same maps and ids as the init', () => {
  const data = dataDir();
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '30'], userns(data)), id]).code, 0);
  const r = sb.tsrun(['exec', '--user', '1001:1001', id, 'sh', '-c', 'cat /proc/self/uid_map; id -u; touch /tmp/by-exec']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /1000\s+200000\s+1000/);
  assert.match(r.stdout, /^1001$/m);
  assert.is(statSync(join(data, 'by-exec')).uid, 200001);
});

t('idmapped binds: files keep their owners through the container\'s mappings ("idmap") or the mount\'s ("ridmap")', () => {
  const vol = join(sb.dir, 'vol');
  mkdirSync(vol, { recursive: true });
  chmodSync(sb.dir, 0o755); // the plain bind is made by the container's root, an unmapped host user
  writeFileSync(join(vol, 'rootfile'), '');
  writeFileSync(join(vol, 'userfile'), '');
  chownSync(join(vol, 'userfile'), 1000, 1000);
  const ct = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const own = [{ containerID: 0, hostID: 101000, size: 1 }];
  // Mount points that exist in the shared rootfs: the container's root may not create any there.
  const script = 'stat -c "%n %u:%g" /run/rootfile /var/rootfile /var/userfile /root/rootfile; touch /var/new && stat -c "%n %u" /var/new';
  const bundle = sb.bundle(['sh', '-c', script], (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = ct;
    s.linux!.gidMappings = ct;
    s.mounts!.push({ destination: '/run', type: 'bind', source: vol, options: ['bind'] });
    s.mounts!.push({ destination: '/var', type: 'bind', source: vol, options: ['bind', 'idmap'] });
    s.mounts!.push({ destination: '/root', type: 'bind', source: vol, options: ['rbind', 'ridmap'], uidMappings: own, gidMappings: own });
  });
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, [
    '/run/rootfile 65534:65534', // plain bind: host root is unmapped in the container
    '/var/rootfile 0:0', // idmap with the container's mappings: owners as on the host
    '/var/userfile 1000:1000',
    '/root/rootfile 1000:1000', // the mount's own mapping: disk 0 -> host 101000 -> container 1000
    '/var/new 0', '',
  ].join('\n'));
  assert.is(statSync(join(vol, 'new')).uid, 0, 'what container root creates is owned by root on disk');
});

t.run();
