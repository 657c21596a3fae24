// process.terminal with --console-socket: the pty is made in the container and its master comes to
// the socket as one SCM_RIGHTS fd with the pty name as payload, as containerd's shim and conmon expect.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Sandbox, cgroupDirs } from '../support/containers.js';
import { linuxSys } from '../../runtime/sys/linux.js';
import { ConsoleSocket, Master, spawnTsrun, within, processesInCgroups } from './terminal-support.js';

const t = suite('terminal-console-socket');
let sb: Sandbox;
let cs: ConsoleSocket;
const masters: Master[] = [];
t.before.each(async () => {
  sb = new Sandbox();
  cs = await ConsoleSocket.listen(join(sb.dir, 'console.sock'));
});
t.after.each(() => {
  for (const m of masters.splice(0)) {
    try {
      m.close();
    } catch {
      // closed by the test
    }
  }
  cs.close();
  sb.cleanup();
});

function terminalBundle(args: string[], edit: (s: import('../../spec/types.js').Spec) => void = () => {}): string {
  return sb.bundle(args, (s) => {
    s.process!.terminal = true;
    edit(s);
  });
}

function assertNothingLeft(id: string): void {
  assert.not.ok(existsSync(join(sb.root, id)), 'no state dir');
  assert.equal(processesInCgroups(sb.suffix), [], 'no process in the container cgroups');
  assert.equal(cgroupDirs(`tsrun-test-${sb.suffix}`), [], 'no cgroup left');
}

t('run --console-socket: one fd, pty name as payload, interactive shell, exit code', async () => {
  const id = sb.id();
  const running = spawnTsrun(sb, ['run', '--console-socket', cs.path, '--bundle', terminalBundle(['sh']), id]);
  try {
    const got = await cs.receive();
    const master = new Master(got.fd);
    masters.push(master);
    assert.match(got.payload, /^\/dev\/pts\/\d+$/, 'payload is the pty name');
    assert.is(await ConsoleSocket.rest(got.conn), 0, 'one message, then the init closes the socket');
    master.write('echo hi; tty; exit 5\n');
    const out = await master.readToEnd();
    assert.match(out, 'echo hi; tty; exit 5', 'the line discipline echoes input');
    assert.match(out, /\r\nhi\r\n/);
    assert.match(out, new RegExp(`\\r\\n${got.payload}\\r\\n`), '`tty` names the slave that was announced');
    const r = await within(running);
    assert.is(r.code, 5, r.stderr);
  } finally {
    running.child.kill('SIGKILL');
  }
  assertNothingLeft(id);
});

t('create/start: consoleSize, /dev/console is the pty, controlling terminal, stopped state', async () => {
  const id = sb.id();
  const bundle = terminalBundle(['sh'], (s) => {
    s.process!.consoleSize = { height: 33, width: 77 };
  });
  const r = sb.tsrun(['create', '--console-socket', cs.path, '--bundle', bundle, id]);
  assert.is(r.code, 0, r.stderr);
  const got = await cs.receive();
  const master = new Master(got.fd);
  masters.push(master);
  assert.is(sb.tsrun(['start', id]).code, 0);
  master.write('stty size; stat -c %t:%T /dev/console; stat -L -c %t:%T $(tty); echo ctty > /dev/tty && echo ctty-ok; exit 0\n');
  const out = await master.readToEnd();
  assert.match(out, /\r\n33 77\r\n/, 'stty size inside = process.consoleSize');
  const devs = out.split('\r\n').filter((l) => /^[0-9a-f]+:[0-9a-f]+$/.test(l));
  assert.is(devs.length, 2, out);
  assert.is(devs[0], devs[1], '/dev/console is the slave');
  assert.match(out, /\r\nctty-ok\r\n/, '/dev/tty opens: the pty is the controlling terminal');
  for (let i = 0; i < 100 && JSON.parse(sb.tsrun(['state', id]).stdout).status !== 'stopped'; i++) await new Promise((res) => setTimeout(res, 20));
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'stopped');
  assert.is(sb.tsrun(['delete', id]).code, 0);
  assertNothingLeft(id);
});

t('exec -t --console-socket in a running container', async () => {
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  const running = spawnTsrun(sb, ['exec', '-t', '--console-socket', cs.path, id, 'sh']);
  try {
    const got = await cs.receive();
    const master = new Master(got.fd);
    masters.push(master);
    assert.match(got.payload, /^\/dev\/pts\/\d+$/);
    master.write('tty; echo x > /dev/tty && echo ctty-ok; ps -o pid,tty,comm | grep -c sleep; exit 3\n');
    const out = await master.readToEnd();
    assert.match(out, new RegExp(`\\r\\n${got.payload}\\r\\n`), out);
    assert.match(out, /\r\nctty-ok\r\n/);
    const r = await within(running);
    assert.is(r.code, 3, r.stderr);
  } finally {
    running.child.kill('SIGKILL');
  }
  // --detach with a console socket: tsrun returns at once, the shell runs on the pty.
  const r = sb.tsrun(['exec', '--detach', '--tty', '--console-socket', cs.path, id, 'sh', '-c', 'echo detached-ok; sleep 0.2']);
  assert.is(r.code, 0, r.stderr);
  const got = await cs.receive();
  const master = new Master(got.fd);
  masters.push(master);
  assert.match(await master.readToEnd(), 'detached-ok');
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'running', 'the container is untouched');
});

t('user namespace and a non-root user: the slave belongs to the process user', async () => {
  const id = sb.id();
  const bundle = terminalBundle(['sh'], (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    s.mounts = s.mounts!.filter((m) => m.type !== 'cgroup');
    s.process!.user = { uid: 1000, gid: 1000 };
  });
  const running = spawnTsrun(sb, ['run', '--console-socket', cs.path, '--bundle', bundle, id]);
  try {
    const got = await cs.receive();
    const master = new Master(got.fd);
    masters.push(master);
    master.write('echo "owner=$(stat -c %u:%g $(tty))"; id -u; exit 0\n');
    const out = await master.readToEnd();
    assert.match(out, /\r\nowner=1000:5\r\n1000\r\n/, 'uid of the process, gid from the devpts gid=5 option');
    const r = await within(running);
    assert.is(r.code, 0, r.stderr);
  } finally {
    running.child.kill('SIGKILL');
  }
  assertNothingLeft(id);
});

t('exactly one fd per message (checked with a recvmsg that accepts several)', async () => {
  const py = spawnSync('python3', ['-c', 'import socket; print(socket.CMSG_SPACE(4))'], { encoding: 'utf8' });
  if (py.status !== 0) {
    console.log('  (python3 missing: fd count not checked)');
    return;
  }
  cs.close();
  const path = join(sb.dir, 'py.sock');
  const script = [
    'import socket, array, sys, os',
    's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); print("ready", flush=True)',
    'c, _ = s.accept()',
    'msg, anc, flags, _ = c.recvmsg(4096, socket.CMSG_SPACE(16 * 4))',
    'fds = array.array("i")',
    'for lvl, typ, data in anc: fds.frombytes(data[:len(data) - len(data) % 4])',
    'print(len(anc), len(fds), msg.decode(), flags & socket.MSG_CTRUNC, flush=True)',
    'for fd in fds: os.close(fd)',
  ].join('\n');
  const { spawn } = await import('node:child_process');
  const recv = spawn('python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  recv.stdout.on('data', (d) => (out += d));
  const exited = new Promise((res) => recv.on('exit', res));
  for (let i = 0; i < 200 && !out.includes('ready'); i++) await new Promise((res) => setTimeout(res, 10));
  const id = sb.id();
  const r = sb.tsrun(['run', '-d', '--console-socket', path, '--bundle', terminalBundle(['sh', '-c', 'sleep 1']), id]);
  assert.is(r.code, 0, r.stderr);
  await exited;
  const [, cmsgs, fds, payload, ctrunc] = out.trim().split('\n')[1].match(/^(\d+) (\d+) (\S+) (\d+)$/)!;
  assert.is(cmsgs, '1');
  assert.is(fds, '1');
  assert.match(payload, /^\/dev\/pts\/\d+$/);
  assert.is(ctrunc, '0');
  cs = await ConsoleSocket.listen(join(sb.dir, 'console.sock')); // for after.each
});

t('the receiver closes before the pty is sent: one clear error, nothing left', async () => {
  const id = sb.id();
  cs.close();
  const path = join(sb.dir, 'closing.sock');
  const { createServer } = await import('node:net');
  const server = createServer((c) => c.destroy());
  await new Promise<void>((res) => server.listen(path, res));
  try {
    const running = spawnTsrun(sb, ['create', '--console-socket', path, '--bundle', terminalBundle(['sh']), id]);
    const r = await within(running);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /process\.terminal: sending the pty to the console socket: (EPIPE|ECONNRESET)/);
  } finally {
    server.close();
  }
  assertNothingLeft(id);
  cs = await ConsoleSocket.listen(join(sb.dir, 'console.sock'));
});

t('the receiver closes the master: the shell sees the hangup, run ends, nothing left', async () => {
  const id = sb.id();
  const running = spawnTsrun(sb, ['run', '--console-socket', cs.path, '--bundle', terminalBundle(['sh']), id]);
  try {
    const got = await cs.receive();
    const master = new Master(got.fd);
    master.write('echo "up""and-running"\n');
    await master.readUntil((o) => o.includes('upand-running'));
    got.conn.destroy();
    master.close();
    const r = await within(running);
    assert.is(r.stderr, '', 'the shell ended by itself');
  } finally {
    running.child.kill('SIGKILL');
  }
  assertNothingLeft(id);
});

t('no /dev/ptmx in the container: one clear error, nothing left', async () => {
  const id = sb.id();
  const bundle = terminalBundle(['sh'], (s) => {
    s.mounts = s.mounts!.filter((m) => m.destination !== '/dev/pts');
  });
  const r = sb.tsrun(['create', '--console-socket', cs.path, '--bundle', bundle, id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, 'tsrun: process.terminal: open /dev/ptmx: ENOENT');
  assertNothingLeft(id);
});

t('refusals as runc: terminal without socket when detached, socket without terminal, bad socket path', () => {
  const id = sb.id();
  const term = terminalBundle(['sh']);
  for (const args of [['create'], ['run', '-d']]) {
    const r = sb.tsrun([...args, '--bundle', term, id]);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /process\.terminal: cannot allocate a terminal .*without --console-socket/);
    assertNothingLeft(id);
  }
  let r = sb.tsrun(['create', '--console-socket', cs.path, '--bundle', sb.bundle(['true']), id]);
  assert.match(r.stderr, /cannot use a console socket when process\.terminal is false/);
  r = sb.tsrun(['create', '--console-socket', join(sb.dir, 'missing.sock'), '--bundle', term, id]);
  assert.match(r.stderr, /--console-socket .*missing\.sock: cannot connect: ENOENT/);
  assertNothingLeft(id);

  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  r = sb.tsrun(['exec', '-d', '-t', id, 'sh']);
  assert.match(r.stderr, /process\.terminal: cannot allocate a terminal/);
  r = sb.tsrun(['exec', '--console-socket', cs.path, id, 'true']);
  assert.match(r.stderr, /cannot use a console socket when process\.terminal is false/);
});

t.run();
