// The lifecycle core with real busybox containers: create/start/state/kill/delete/run/list.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readlinkSync, existsSync, writeFileSync, openSync, closeSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Sandbox, TSRUN, bundleCgroupPath, cgroupLeftovers, sharedRootfs } from '../support/containers.js';

const t = suite('lifecycle');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

function sh(script: string): string[] {
  return ['sh', '-c', script];
}

t('run: the process is PID 1 and its exit code comes back', () => {
  const r = sb.tsrun(['run', '--bundle', sb.bundle(sh('echo pid=$$; exit 3')), sb.id()]);
  assert.is(r.stdout.trim(), 'pid=1', r.stderr);
  assert.is(r.code, 3);
});

t('run: a process killed by a signal exits 128+signal', async () => {
  // PID 1 ignores signals it has no handler for when they come from inside: kill it from outside.
  const id = sb.id();
  const child = spawn(TSRUN, ['--root', sb.root, 'run', '--bundle', sb.bundle(['sleep', '30']), id], { stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  let status = '';
  for (let i = 0; i < 200 && status !== 'running'; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const st = sb.tsrun(['state', id]);
    if (st.code === 0) status = JSON.parse(st.stdout).status;
  }
  assert.is(status, 'running');
  assert.is(sb.tsrun(['kill', id, 'KILL']).code, 0);
  assert.is(await exited, 137);
});

t('run: /bin/true exits 0 and leaves no state behind', () => {
  const id = sb.id();
  const r = sb.tsrun(['run', '--bundle', sb.bundle(['true']), id]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(join(sb.root, id)), 'state dir removed after foreground run');
});

t('create, state, start, kill, delete: the full state machine', () => {
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '100']);
  const pidFile = join(sb.dir, 'init.pid');
  let r = sb.tsrun(['create', '--bundle', bundle, '--pid-file', pidFile, id]);
  assert.is(r.code, 0, r.stderr);
  const pidText = readFileSync(pidFile, 'utf8');
  assert.match(pidText, /^\d+$/, 'bare decimal pid, no newline');

  let state = JSON.parse(sb.tsrun(['state', id]).stdout);
  assert.is(state.status, 'created');
  assert.is(state.pid, Number(pidText));
  assert.is(state.id, id);
  assert.is(state.bundle, bundle);
  for (const key of ['ociVersion', 'rootfs', 'created', 'owner']) assert.ok(key in state, key);
  // The init waits: the process has not exec'd sleep yet.
  assert.not.match(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8'), /sleep/);

  r = sb.tsrun(['start', id]);
  assert.is(r.code, 0, r.stderr);
  state = JSON.parse(sb.tsrun(['state', id]).stdout);
  assert.is(state.status, 'running');
  assert.is(readFileSync(`/proc/${state.pid}/cmdline`, 'utf8'), 'sleep\u0000100\u0000');

  r = sb.tsrun(['start', id]);
  assert.is.not(r.code, 0, 'start twice is refused');
  assert.match(r.stderr, id);

  r = sb.tsrun(['delete', id]);
  assert.is.not(r.code, 0, 'delete of a running container needs --force');
  assert.match(r.stderr, /not stopped/);

  r = sb.tsrun(['kill', id, 'KILL']);
  assert.is(r.code, 0, r.stderr);
  sb.waitStopped(id);
  state = JSON.parse(sb.tsrun(['state', id]).stdout);
  assert.is(state.status, 'stopped');
  assert.is(state.pid, 0);

  r = sb.tsrun(['kill', id]);
  assert.is.not(r.code, 0, 'kill of a stopped container is refused');

  r = sb.tsrun(['delete', id]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(join(sb.root, id)));
  r = sb.tsrun(['state', id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, `"${id}" does not exist`);
});

t('create of an existing id is refused and leaves the first container alone', () => {
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '100']);
  assert.is(sb.tsrun(['create', '--bundle', bundle, id]).code, 0);
  const r = sb.tsrun(['create', '--bundle', bundle, id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'already exists');
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'created');
});

t('delete of a created container needs no --force (as runc)', () => {
  const id = sb.id();
  assert.is(sb.tsrun(['create', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  const pid = JSON.parse(sb.tsrun(['state', id]).stdout).pid;
  const r = sb.tsrun(['delete', id]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z');
});

t('unknown ids: one clear error, non-zero exit', () => {
  for (const cmd of [['state'], ['start'], ['kill'], ['delete']]) {
    const r = sb.tsrun([...cmd, 'tsrun-test-nope']);
    assert.is.not(r.code, 0, cmd[0]);
    assert.match(r.stderr, '"tsrun-test-nope" does not exist', cmd[0]);
    assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  assert.is(sb.tsrun(['delete', '--force', 'tsrun-test-nope']).code, 0, 'delete --force of nothing is fine');
});

t('kill accepts signal names and numbers; --all; default TERM', () => {
  for (const sig of ['KILL', 'SIGKILL', '9', undefined]) {
    const id = sb.id(`kill${sig ?? 'default'}`);
    assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(sh('trap "exit 42" TERM; while true; do sleep 0.1; done')), id]).code, 0);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150); // let sh install its trap
    const r = sb.tsrun(['kill', id, ...(sig ? [sig] : [])]);
    assert.is(r.code, 0, r.stderr);
    let status = '';
    for (let i = 0; i < 100 && status !== 'stopped'; i++) {
      status = JSON.parse(sb.tsrun(['state', id]).stdout).status;
      if (status !== 'stopped') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    assert.is(status, 'stopped', `${sig ?? 'TERM'} stopped the container`);
  }
  const r = sb.tsrun(['kill', sb.id('k0'), 'NOSUCHSIG']);
  assert.is.not(r.code, 0);
});

t('list: table, json and -q', () => {
  assert.is(sb.tsrun(['list', '--format', 'json']).stdout.trim(), 'null');
  const id = sb.id();
  assert.is(sb.tsrun(['create', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  const rows = JSON.parse(sb.tsrun(['list', '--format=json']).stdout);
  assert.is(rows.length, 1);
  assert.is(rows[0].id, id);
  assert.is(rows[0].status, 'created');
  assert.is(sb.tsrun(['list', '-q']).stdout, `${id}\n`);
  assert.match(sb.tsrun(['list']).stdout, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n/);
});

t('an init that dies on its own is reported stopped', () => {
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['true']), id]).code, 0);
  let status = '';
  for (let i = 0; i < 100; i++) {
    status = JSON.parse(sb.tsrun(['state', id]).stdout).status;
    if (status === 'stopped') break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  assert.is(status, 'stopped');
});

t('a missing program fails create with a clear error and leaves nothing', () => {
  const id = sb.id();
  const bundle = sb.bundle(['/no/such/program']);
  const r = sb.tsrun(['create', '--bundle', bundle, id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, '/no/such/program');
  assert.not.ok(existsSync(join(sb.root, id)), 'no state dir');
  assert.equal(cgroupLeftovers(bundleCgroupPath(bundle)), [], 'no cgroup left');
});

t('a cwd only root may enter is entered before dropping to the user (as runc)', () => {
  const bundle = sb.bundle(['sh', '-c', 'pwd; id -u'], (s) => {
    s.mounts!.push({ destination: '/secret', type: 'tmpfs', source: 'tmpfs', options: ['mode=700'] });
    s.process!.cwd = '/secret';
    s.process!.user = { uid: 1000, gid: 1000 };
  });
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '/secret\n1000\n');
  assert.is(sb.runc(['run', '--bundle', bundle, sb.id('runc')]).stdout, r.stdout);
});

t('after create the waiting init already is the process user, in its cwd (as runc)', () => {
  const bundle = sb.bundle(['true'], (s) => {
    s.process!.cwd = '/tmp';
    s.process!.user = { uid: 1000, gid: 1001 };
  });
  const seen: Record<string, string[]> = {};
  for (const [name, cli] of [['tsrun', sb.tsrun.bind(sb)], ['runc', sb.runc.bind(sb)]] as const) {
    const pidFile = join(sb.dir, `${name}.pid`);
    const c = cli(['create', '--bundle', bundle, '--pid-file', pidFile, sb.id(name)]);
    assert.is(c.code, 0, c.stderr);
    const pid = readFileSync(pidFile, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    seen[name] = [status.match(/^Uid:.*$/m)![0], status.match(/^Gid:.*$/m)![0], readlinkSync(`/proc/${pid}/cwd`).replace(/^.*\/rootfs/, '')];
  }
  assert.equal(seen.tsrun, ['Uid:\t1000\t1000\t1000\t1000', 'Gid:\t1001\t1001\t1001\t1001', '/tmp']);
  assert.equal(seen.tsrun, seen.runc);
});

t('a relative program path is found from process.cwd (as runc)', () => {
  const bundle = sb.bundle(['./busybox', 'echo', 'found'], (s) => {
    s.process!.cwd = '/bin';
  });
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'found\n');
  assert.is(sb.runc(['run', '--bundle', bundle, sb.id('runc')]).stdout, 'found\n');
});

t('a broken config.json fails create naming the JSON path, nothing left', () => {
  const id = sb.id();
  const bundle = sb.bundle(['true'], (s) => {
    (s.process as any).args = 'not-an-array';
  });
  const r = sb.tsrun(['create', '--bundle', bundle, id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /process.*args/);
  assert.not.ok(existsSync(join(sb.root, id)));
  writeFileSync(join(bundle, 'config.json'), '{ "ociVersion": ');
  const r2 = sb.tsrun(['create', '--bundle', bundle, id]);
  assert.is.not(r2.code, 0);
  assert.match(r2.stderr, 'config.json');
});

t('a rootfs reached through a symlink is refused, as runc refuses it; nothing left', () => {
  const link = join(sb.dir, 'rootfs-link');
  symlinkSync(sharedRootfs(), link);
  const bundle = sb.bundle(['true'], (s) => {
    s.root = { path: link, readonly: true };
  });
  const id = sb.id();
  const r = sb.tsrun(['create', '--bundle', bundle, id]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /root\.path: rootfs ".*rootfs-link" goes through a symlink/);
  assert.is(r.stderr.trim().split('\n').length, 1, 'one line');
  assert.not.ok(existsSync(join(sb.root, id)));
  assert.equal(cgroupLeftovers(bundleCgroupPath(bundle)), []);
  const runc = sb.runc(['create', '--bundle', bundle, sb.id('runc')]);
  assert.is.not(runc.code, 0);
  assert.match(runc.stderr, 'symlink');
});

t('--log with --log-format json records errors as level error', () => {
  const log = join(sb.dir, 'log.json');
  const r = sb.tsrun(['--log', log, '--log-format', 'json', 'state', 'tsrun-test-nope']);
  assert.is.not(r.code, 0);
  const last = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop()!);
  assert.is(last.level, 'error');
  assert.match(last.msg, 'does not exist');
  assert.ok(last.time);
});

t('--debug logs the steps of run with the time since tsrun started, in order; without it nothing', () => {
  const bundle = sb.bundle(['true']);
  const quiet = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(quiet.code, 0, quiet.stderr);
  assert.is(quiet.stderr, '');
  const r = sb.tsrun(['--debug', '--log-format', 'json', 'run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  const steps = r.stderr.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.level === 'debug').map((l) => /^(.*) \(\+([0-9.]+) ms\)$/.exec(l.msg)!);
  const names = steps.map((m) => m[1].replace(/\d+/g, 'N'));
  assert.equal(names, ['run: tsrun loaded', 'create: config loaded and validated', 'create: cgroups made', 'create: the init will wait in the waiting-init program', 'create: init is pid N',
    'create: init in its cgroups (joined them itself)', 'create: init ready', 'create: done', 'start: the process has started', 'run: the process has exited', 'run: container deleted']);
  const times = steps.map((m) => Number(m[2]));
  assert.equal(times, [...times].sort((a, b) => a - b), 'times only grow');
});

t('bad CLI use: usage errors', () => {
  assert.is(sb.tsrun(['create']).code, 2);
  assert.is(sb.tsrun(['--no-such-flag', 'list']).code, 2);
  assert.is(sb.tsrun(['list', '--bogus']).code, 2);
  assert.is(sb.tsrun(['frobnicate']).code, 2);
  assert.match(sb.tsrun(['--version']).stdout, /^tsrun version/);
});

t('COMMAND --help (or -h): the usage line, the summary and the flags it takes; exit 0, nothing done', () => {
  const create = sb.tsrun(['create', '--help', sb.id()]);
  assert.is(create.code, 0, create.stderr);
  assert.match(create.stdout, /^usage: tsrun create \[flags\] <container-id>\n\ncreate a container/);
  assert.match(create.stdout, /\n {2}--bundle, -b VALUE +default "\."\n/);
  assert.match(create.stdout, /\n {2}--no-pivot\n/);
  assert.equal(sb.tsrun(['list', '-q']).stdout, '', 'nothing created');
  const exec = sb.tsrun(['exec', '-h']);
  assert.is(exec.code, 0);
  assert.match(exec.stdout, /^usage: tsrun exec \[flags\] <container-id> <command> \[args\.\.\.\]\n/);
  assert.match(exec.stdout, /\n {2}--env, -e VALUE +repeatable\n/);
  assert.is(sb.tsrun(['state', '--help']).stdout, 'usage: tsrun state <container-id>\n\nprint the state of a container as JSON\n');
});

t('--preserve-fds and LISTEN_FDS pass extra fds into the container; nothing else leaks', () => {
  const file = join(sb.dir, 'extra');
  writeFileSync(file, 'extra-fd');
  const fd = openSync(file, 'r');
  try {
    const script = 'cat <&3; echo; echo $LISTEN_FDS $LISTEN_PID; ls /proc/self/fd | sort -n | tr "\\n" " "';
    let r = sb.tsrun(['run', '--preserve-fds', '1', '--bundle', sb.bundle(['sh', '-c', script]), sb.id('pfd')], { extraFds: [fd] });
    assert.is(r.code, 0, r.stderr);
    const [content, listen, fds] = r.stdout.split('\n');
    assert.is(content, 'extra-fd');
    assert.is(listen.trim(), '');
    assert.is(fds.trim(), '0 1 2 3 4', 'stdio, the preserved fd, and ls own directory fd only');
    const fd2 = openSync(file, 'r'); // a fresh offset: the first container read fd to its end
    r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', script]), sb.id('lfd')], { extraFds: [fd2], env: { ...process.env, LISTEN_FDS: '1' } });
    closeSync(fd2);
    assert.is(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').slice(0, 2), ['extra-fd', '1 1']);
    r = sb.tsrun(['run', '--bundle', sb.bundle(['sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "']), sb.id('nofd')], { extraFds: [fd] });
    assert.is(r.stdout.trim(), '0 1 2 3', 'without --preserve-fds the extra fd does not reach the container');
  } finally {
    closeSync(fd);
  }
});

t.run();
