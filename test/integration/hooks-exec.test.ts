// OCI hooks and `tsrun exec` with real containers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, bundleCgroupPath, cgroupLeftovers } from '../support/containers.js';
import type { Spec } from '../../spec/types.js';

const t = suite('hooks and exec');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

/** A hook script that appends "<name> <uts ns> <mnt ns> <stdin state>" to a log file. */
function recorder(name: string, log: string, extra = ''): string {
  const path = join(sb.dir, `hook-${name}.sh`);
  writeFileSync(path, `#!/bin/sh\n${extra}\nstate=$(cat)\necho "${name} $(readlink /proc/self/ns/uts) $(readlink /proc/self/ns/mnt) $state" >> ${log}\n`);
  chmodSync(path, 0o755);
  return path;
}

function entries(log: string) {
  return readFileSync(log, 'utf8').trim().split('\n').map((l) => {
    const [name, uts, mnt, ...rest] = l.split(' ');
    return { name, uts, mnt, state: JSON.parse(rest.join(' ')) };
  });
}

t('all six hooks run in order, in the right namespaces, with the state on stdin', () => {
  const log = join(sb.dir, 'hooks.log');
  const id = sb.id();
  const hook = (name: string, extra = '') => [{ path: recorder(name, log, extra), args: [name], env: ['HOOK=1'], timeout: 10 }];
  const bundle = sb.bundle(['sh', '-c', 'readlink /proc/self/ns/uts; readlink /proc/self/ns/mnt'], (s: Spec) => {
    s.hooks = {
      prestart: hook('prestart'), createRuntime: hook('createRuntime'), createContainer: hook('createContainer'),
      // slow on purpose: poststart must still come after it (`start` waits for the process's execve)
      startContainer: hook('startContainer', 'sleep 0.3'), poststart: hook('poststart'), poststop: hook('poststop'),
    };
    s.annotations = { 'test.tsrun/key': 'value' };
    // startContainer's path resolves in the container: give it the hook scripts and the log.
    s.mounts!.push({ destination: sb.dir, source: sb.dir, type: 'bind', options: ['rbind', 'rw'] });
  });
  const r = sb.tsrun(['run', '--bundle', bundle, id]);
  assert.is(r.code, 0, r.stderr);
  const [containerUts, containerMnt] = r.stdout.trim().split('\n');
  const seen = entries(log);
  assert.equal(seen.map((e) => e.name), ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
  const hostUts = readlinkSync('/proc/self/ns/uts');
  for (const e of seen) {
    assert.is(e.state.id, id);
    assert.is(e.state.bundle, bundle);
    assert.is(e.state.annotations['test.tsrun/key'], 'value');
    const inContainer = e.name === 'createContainer' || e.name === 'startContainer';
    assert.is(e.uts, inContainer ? containerUts : hostUts, `${e.name} uts namespace`);
    if (inContainer) assert.is(e.mnt, containerMnt, `${e.name} mount namespace`);
  }
  assert.ok(seen[0].state.pid > 0, 'the init pid is in the state');
  assert.is(seen[4].state.status, 'running');
  assert.is(seen[5].state.status, 'stopped');
});

t('a failing createRuntime hook fails create and leaves nothing behind', () => {
  const id = sb.id();
  const bad = join(sb.dir, 'bad.sh');
  writeFileSync(bad, '#!/bin/sh\necho "hook says no" >&2\nexit 3\n');
  chmodSync(bad, 0o755);
  const bundle = sb.bundle(['true'], (s) => {
    s.hooks = { createRuntime: [{ path: bad }] };
  });
  const r = sb.tsrun(['create', '--bundle', bundle, id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /createRuntime hook #0 .*bad\.sh.* exit status 3: hook says no/);
  assert.not.ok(existsSync(join(sb.root, id)));
  assert.equal(cgroupLeftovers(bundleCgroupPath(bundle)), []);
});

t('a hook that outlives its timeout is killed and fails create', () => {
  const id = sb.id();
  const slow = join(sb.dir, 'slow.sh');
  writeFileSync(slow, '#!/bin/sh\nsleep 30\n');
  chmodSync(slow, 0o755);
  const started = Date.now();
  const r = sb.tsrun(['create', '--bundle', sb.bundle(['true'], (s) => {
    s.hooks = { prestart: [{ path: slow, timeout: 1 }] };
  }), id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /timed out/);
  assert.ok(Date.now() - started < 10_000, 'returns soon after the timeout');
  assert.not.ok(existsSync(join(sb.root, id)));
});

t('exec joins every namespace and the cgroup; exit codes pass through', () => {
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  const pid = JSON.parse(sb.tsrun(['state', id]).stdout).pid;
  const r = sb.tsrun(['exec', id, 'sh', '-c', 'for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; hostname; cat /proc/self/cgroup | grep memory; exit 9']);
  assert.is(r.code, 9, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const expected = ['pid', 'mnt', 'uts', 'ipc', 'net'].map((n) => readlinkSync(`/proc/${pid}/ns/${n}`));
  assert.equal(lines.slice(0, 5), expected);
  assert.is(lines[5], 'tsrun-test');
  assert.is(lines[6], readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.includes(':memory:')));
});

t('exec flags: --cwd, --env, --user, --process, --detach with --pid-file', () => {
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  let r = sb.tsrun(['exec', '--cwd', '/tmp', '-e', 'FOO=bar', '--user', '1000:1001', id, 'sh', '-c', 'pwd; echo $FOO; id -u; id -g']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '/tmp\nbar\n1000\n1001\n');
  const proc = join(sb.dir, 'process.json');
  writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'echo from-process-json; exit 4'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }));
  r = sb.tsrun(['exec', '--process', proc, id]);
  assert.is(r.code, 4, r.stderr);
  assert.is(r.stdout, 'from-process-json\n');
  const pidFile = join(sb.dir, 'exec.pid');
  r = sb.tsrun(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '50']);
  assert.is(r.code, 0, r.stderr);
  const execPid = readFileSync(pidFile, 'utf8');
  assert.match(execPid, /^\d+$/);
  assert.ok(JSON.parse(sb.tsrun(['ps', '--format', 'json', id]).stdout).includes(Number(execPid)));
  r = sb.tsrun(['exec', id, '/no/such/thing']);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, '/no/such/thing');
});

t('exec in a stopped container is refused', () => {
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['true']), id]).code, 0);
  sb.waitStopped(id);
  const r = sb.tsrun(['exec', id, 'true']);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'stopped');
});

t('device cgroup: a denied device node cannot be opened even by root with CAP_MKNOD', () => {
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'mknod /dev/tsrun-mem c 1 1 && head -c 1 /dev/tsrun-mem; echo rc=$?']), sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'rc=1');
  assert.match(r.stderr, /Operation not permitted/);
});

t.run();
