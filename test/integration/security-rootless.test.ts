// tsrun run by an unprivileged user (rootless), as `runc --rootless`: a user made by the test
// (tsrun-test-user, removed at the end), the bundle from `tsrun spec --rootless`, a user namespace
// mapping the caller to root (setgroups=deny), several ranges through newuidmap/newgidmap, no
// cgroups, state under $XDG_RUNTIME_DIR/tsrun.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run, sharedRootfs, TSRUN, type Result } from '../support/containers.js';
import type { Spec } from '../../spec/types.js';
import { CAPABILITIES } from '../../spec/names.js';

const USER = 'tsrun-test-user';
const t = suite('security-rootless');

let uid = 0;
let gid = 0;
let createdUser = false;
let dir = '';
const ids = new Set<string>();

function idOf(name: string): string {
  const id = `tsrun-test-rootless-${name}-${Math.random().toString(36).slice(2, 8)}`;
  ids.add(id);
  return id;
}

function asUser(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Result {
  return run(cmd, args, { uid, gid, cwd: dir, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, ...extraEnv } });
}
const tsrun = (args: string[], env?: Record<string, string>) => asUser(TSRUN, ['--root', join(dir, 'state'), ...args], env);

/** A bundle written by `tsrun spec --rootless` as the user, then adjusted for the test. */
function bundle(args: string[], edit: (s: Spec) => void = () => {}): string {
  const b = mkdtempSync(join(dir, 'bundle-'));
  chmodSync(b, 0o755);
  chownSync(b, uid, gid);
  const r = run(TSRUN, ['spec', '--rootless', '--bundle', b], { uid, gid, env: { PATH: '/usr/bin:/bin' } });
  assert.is(r.code, 0, r.stderr);
  const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')) as Spec;
  spec.root = { path: sharedRootfs(), readonly: true };
  spec.process!.terminal = false;
  spec.process!.args = args;
  spec.mounts!.push({ destination: '/tmp', type: 'bind', source: join(dir, 'data'), options: ['rbind', 'rw'] });
  edit(spec);
  writeFileSync(join(b, 'config.json'), JSON.stringify(spec, null, 2));
  return b;
}

function subRange(file: string): { start: number; count: number } {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${USER}:`));
  assert.ok(line, `${file} has a range for ${USER}`);
  const [, start, count] = line!.split(':');
  return { start: Number(start), count: Number(count) };
}

t.before(() => {
  try {
    execFileSync('id', ['-u', USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', USER]);
    createdUser = true;
  }
  uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }));
  gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }));
  sharedRootfs(); // made by root, 0755: readable by the user
  dir = mkdtempSync(join(tmpdir(), 'tsrun-test-rootless-'));
  chmodSync(dir, 0o755);
  chownSync(dir, uid, gid);
  mkdirSync(join(dir, 'data'), { mode: 0o1777 });
  chmodSync(join(dir, 'data'), 0o1777);
  chownSync(join(dir, 'data'), uid, gid);
});

t.after(() => {
  try {
    for (const id of ids) {
      tsrun(['delete', '--force', id]);
      tsrun(['delete', '--force', id], { XDG_RUNTIME_DIR: join(dir, 'xdg') });
      if (existsSync(join(dir, 'xdg', 'tsrun', id))) asUser(TSRUN, ['delete', '--force', id], { XDG_RUNTIME_DIR: join(dir, 'xdg') });
      if (existsSync(join(dir, 'runc-state', id))) asUser('runc', ['--root', join(dir, 'runc-state'), 'delete', '--force', id]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(sharedRootfs()), { recursive: true, force: true });
    if (createdUser) execFileSync('userdel', [USER]);
  }
});

t('run as the user: root in the container is the caller, setgroups=deny, same as runc --rootless', () => {
  const b = bundle(['sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; touch /tmp/by-rootless']);
  const spec = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')) as Spec;
  assert.equal(spec.linux!.uidMappings, [{ containerID: 0, hostID: uid, size: 1 }], 'spec --rootless maps the caller');
  assert.not.ok(spec.linux!.namespaces!.some((n) => n.type === 'network'));
  const r = asUser(TSRUN, ['--root', join(dir, 'state'), 'run', '--bundle', b, idOf('run')]);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.match(lines[0], /^uid=0\(root\) gid=0\(root\)/);
  assert.equal(lines.slice(1), [`0 ${uid} 1`, `0 ${gid} 1`, 'deny']);
  const st = statSync(join(dir, 'data', 'by-rootless'));
  assert.equal([st.uid, st.gid], [uid, gid], 'the file belongs to the caller on the host');

  const runc = asUser('runc', ['--root', join(dir, 'runc-state'), 'run', '--bundle', b, idOf('runc')]);
  assert.is(runc.code, 0, runc.stderr);
  assert.is(r.stdout, runc.stdout);
});

t('lifecycle as the user: no cgroups created, state under $XDG_RUNTIME_DIR/tsrun', () => {
  const id = idOf('life');
  const xdg = join(dir, 'xdg');
  mkdirSync(xdg, { mode: 0o700 });
  chownSync(xdg, uid, gid);
  const env = { XDG_RUNTIME_DIR: xdg };
  const b = bundle(['sleep', '30']);
  const r = asUser(TSRUN, ['run', '-d', '--bundle', b, id], env);
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(join(xdg, 'tsrun', id, 'state.json')), 'state under $XDG_RUNTIME_DIR/tsrun');
  const state = JSON.parse(asUser(TSRUN, ['state', id], env).stdout);
  assert.is(state.status, 'running');
  assert.is(Number(readFileSync(`/proc/${state.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1]), uid, 'the init runs as the caller on the host');
  for (const ctrl of readdirSync('/sys/fs/cgroup')) {
    assert.not.ok(existsSync(join('/sys/fs/cgroup', ctrl, 'tsrun', id)), `no cgroup in ${ctrl}`);
  }
  const e = asUser(TSRUN, ['exec', id, 'id', '-u'], env);
  assert.is(e.code, 0, e.stderr);
  assert.is(e.stdout, '0\n');
  assert.is(asUser(TSRUN, ['kill', id, 'KILL'], env).code, 0);
  const d = asUser(TSRUN, ['delete', '--force', id], env);
  assert.is(d.code, 0, d.stderr);
  assert.not.ok(existsSync(join(xdg, 'tsrun', id)));
});

t('several ranges as the user go through newuidmap/newgidmap (subordinate ids)', () => {
  const su = subRange('/etc/subuid');
  const sg = subRange('/etc/subgid');
  const b = bundle(['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /tmp/by-sub'], (s) => {
    s.linux!.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }, { containerID: 1, hostID: su.start, size: su.count }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }, { containerID: 1, hostID: sg.start, size: sg.count }];
    s.process!.user = { uid: 1000, gid: 1000 };
  });
  const r = tsrun(['run', '--bundle', b, idOf('sub')]);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  assert.equal(lines, [`0 ${uid} 1`, `1 ${su.start} ${su.count}`, `0 ${gid} 1`, `1 ${sg.start} ${sg.count}`, '1000']);
  const st = statSync(join(dir, 'data', 'by-sub'));
  assert.equal([st.uid, st.gid], [su.start + 999, sg.start + 999], 'container 1000 is the 1000th subordinate id');
});

t('a range the user does not own is refused with a clear error', () => {
  const b = bundle(['true'], (s) => {
    s.linux!.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }, { containerID: 1, hostID: 5_000_000, size: 10 }];
  });
  const id = idOf('bad');
  const r = tsrun(['run', '--bundle', b, id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'linux.uidMappings: newuidmap');
  assert.match(r.stderr, '/etc/subuid');
  assert.is(tsrun(['state', id]).code, 1, 'nothing left behind');
});

t('CVE-2019-5736: the waiting init of a rootless container is non-dumpable', () => {
  // Here the kernel does not reset "dumpable" for us (root in the container is the caller's own
  // uid, so no uid changes hands): only tsrun's PR_SET_DUMPABLE keeps the container away from the
  // init (Node) and its /proc/1/exe.
  const id = idOf('dump');
  const b = bundle(['true']);
  const c = tsrun(['create', '--bundle', b, id]);
  assert.is(c.code, 0, c.stderr);
  const all = CAPABILITIES.slice(0, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')) + 1);
  const proc = join(dir, 'dump-process.json');
  writeFileSync(proc, JSON.stringify({
    args: ['sh', '-c', 'cat /proc/1/exe >/dev/null 2>&1; echo read=$?; ls /proc/1/fd >/dev/null 2>&1; echo fds=$?; sleep 5 & cat /proc/$!/exe >/dev/null; echo control=$?; kill $!'],
    cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'],
    capabilities: { bounding: all, effective: all, permitted: all },
  }));
  // The caller cannot open the non-dumpable init's /proc/PID/ns either: root execs the probe.
  assert.match(tsrun(['exec', id, 'true']).stderr, 'EACCES');
  const r = run(TSRUN, ['--root', join(dir, 'state'), 'exec', '--process', proc, id]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'read=1\nfds=1\ncontrol=0\n');
});

t.run();
