// Seccomp in real containers: ERRNO and KILL actions (same as runc), and SCMP_ACT_NOTIFY with a
// real agent (a small Python program here) that receives the listener fd and the container state
// over linux.seccomp.listenerPath and answers the container's syscalls.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox } from '../support/containers.js';
import type { Spec } from '../../spec/types.js';

const t = suite('security-seccomp');
let sb: Sandbox;
let agents: ChildProcess[] = [];
t.before.each(() => {
  sb = new Sandbox();
  agents = [];
});
t.after.each(() => {
  for (const a of agents) a.kill('SIGKILL');
  sb.cleanup();
});

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

// Records each connection (the JSON message) and each notification, answers with -ERRNO.
const AGENT = String.raw`
import array, fcntl, json, os, socket, struct, sys, threading
path, log, err = sys.argv[1], sys.argv[2], int(sys.argv[3])
RECV, SEND = 0xC0502100, 0xC0182101
lock = threading.Lock()
def record(obj):
    with lock, open(log, 'a') as f:
        f.write(json.dumps(obj) + '\n')
def serve(fd):
    while True:
        buf = bytearray(80)
        try:
            fcntl.ioctl(fd, RECV, buf)
        except OSError:
            return
        nid, pid, _flags, nr = struct.unpack_from('<QIIi', buf, 0)
        record({'notify': nr, 'pid': pid})
        try:
            fcntl.ioctl(fd, SEND, bytearray(struct.pack('<QqiI', nid, 0, -err, 0)))
        except OSError:
            pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
record({'ready': True})
while True:
    conn, _ = srv.accept()
    fds = array.array('i')
    msg, anc, _f, _a = conn.recvmsg(65536, socket.CMSG_LEN(4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:4])
    record({'state': json.loads(msg), 'gotFd': len(fds) == 1})
    conn.close()
    if len(fds):
        threading.Thread(target=serve, args=(fds[0],), daemon=True).start()
`;

const EDQUOT = 122;

function startAgent(errno: number): { socket: string; log: string; records: () => any[] } {
  const script = join(sb.dir, 'agent.py');
  writeFileSync(script, AGENT);
  const socket = join(sb.dir, 'agent.sock');
  const log = join(sb.dir, 'agent.log');
  const agent = spawn('python3', [script, socket, log, String(errno)], { stdio: ['ignore', 'ignore', 'inherit'] });
  agents.push(agent);
  const records = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
  for (let i = 0; i < 200 && !records().length; i++) sleep(25);
  assert.ok(records().length, 'agent started');
  return { socket, log, records };
}

function profile(edit: (s: NonNullable<NonNullable<Spec['linux']>['seccomp']>) => void) {
  return (s: Spec) => {
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'], syscalls: [] };
    edit(s.linux!.seccomp);
  };
}

t('SCMP_ACT_ERRNO: a denied mkdir returns the configured errno, same as runc', () => {
  for (const nnp of [true, false]) {
    const bundle = sb.bundle(['sh', '-c', 'grep ^Seccomp: /proc/self/status; mkdir /tmp/x; echo rc=$?'], (s) => {
      profile((p) => p.syscalls!.push({ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 18 }))(s);
      s.process!.noNewPrivileges = nnp;
    });
    const ts = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
    assert.is(ts.code, 0, ts.stderr);
    assert.is(ts.stdout, 'Seccomp:\t2\nrc=1\n');
    assert.match(ts.stderr, 'Invalid cross-device link', 'EXDEV (18), not EROFS');
    const runc = sb.runc(['run', '--bundle', bundle, sb.id('runc')]);
    assert.is(ts.stdout, runc.stdout);
    assert.is(ts.stderr, runc.stderr);
  }
});

t('SCMP_ACT_KILL kills the process with SIGSYS, same as runc', () => {
  const bundle = sb.bundle(['sh', '-c', 'echo before; mkdir /tmp/x; echo after rc=$?'], profile((p) => {
    p.syscalls!.push({ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL' });
  }));
  const ts = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(ts.code, 0, ts.stderr);
  // busybox sh forks mkdir: the child dies of SIGSYS (128+31), the shell carries on.
  assert.is(ts.stdout, 'before\nafter rc=159\n');
  const runc = sb.runc(['run', '--bundle', bundle, sb.id('runc')]);
  assert.is(ts.stdout, runc.stdout);
});

t('SCMP_ACT_KILL_PROCESS on the container process itself: 128+SIGSYS, same as runc', () => {
  const bundle = sb.bundle(['uname'], profile((p) => {
    p.syscalls!.push({ names: ['uname'], action: 'SCMP_ACT_KILL_PROCESS' });
  }));
  const ts = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(ts.code, 128 + 31, ts.stderr);
  const runc = sb.runc(['run', '--bundle', bundle, sb.id('runc')]);
  assert.is(runc.code, 128 + 31);
});

t('SCMP_ACT_NOTIFY: the agent gets the listener and the state; its answer reaches the container', () => {
  const agent = startAgent(EDQUOT);
  const id = sb.id();
  // mkdir is the container process itself, so the notification comes from the init's pid.
  const bundle = sb.bundle(['mkdir', '/tmp/x'], profile((p) => {
    p.listenerPath = agent.socket;
    p.listenerMetadata = 'tsrun-test-metadata';
    p.syscalls!.push({ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' });
  }));
  const r = sb.tsrun(['run', '--bundle', bundle, id]);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, 'Disk quota exceeded', 'the agent answered EDQUOT');
  const recs = agent.records();
  const conn = recs.find((x) => x.state);
  assert.ok(conn, 'the agent was connected');
  assert.ok(conn.gotFd, 'with the listener fd (SCM_RIGHTS)');
  const st = conn.state;
  assert.equal(st.fds, ['seccompFd']);
  assert.is(st.metadata, 'tsrun-test-metadata');
  assert.is(st.state.id, id);
  assert.is(st.state.status, 'creating');
  assert.is(st.pid, st.state.pid);
  const notes = recs.filter((x) => x.notify !== undefined);
  assert.ok(notes.length >= 1, 'a notification');
  assert.is(notes[0].pid, st.pid, 'from the container process');
});

t('SCMP_ACT_NOTIFY with exec: a second connection for the exec process', () => {
  const agent = startAgent(EDQUOT);
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '30'], profile((p) => {
    p.listenerPath = agent.socket;
    p.syscalls!.push({ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' });
  }));
  assert.is(sb.tsrun(['run', '-d', '--bundle', bundle, id]).code, 0);
  const r = sb.tsrun(['exec', id, 'sh', '-c', 'mkdir /tmp/y; echo rc=$?']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'rc=1\n');
  assert.match(r.stderr, 'Disk quota exceeded');
  const conns = agent.records().filter((x) => x.state);
  assert.is(conns.length, 2);
  assert.is(conns[1].state.state.status, 'running');
  assert.is.not(conns[1].state.pid, conns[1].state.state.pid, 'the exec process, not the init');
});

t('SCMP_ACT_NOTIFY: no agent at listenerPath fails create naming it, nothing left', () => {
  const id = sb.id();
  const missing = join(sb.dir, 'nobody.sock');
  const bundle = sb.bundle(['true'], profile((p) => {
    p.listenerPath = missing;
    p.syscalls!.push({ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' });
  }));
  const r = sb.tsrun(['create', '--bundle', bundle, id]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, `linux.seccomp.listenerPath ${missing}`);
  assert.match(r.stderr, 'ENOENT');
  assert.is(sb.tsrun(['state', id]).code, 1);
});

t('SCMP_ACT_NOTIFY on write or sendmsg is refused (the init needs them to hand the listener over)', () => {
  for (const name of ['write', 'sendmsg']) {
    const bundle = sb.bundle(['true'], profile((p) => {
      p.listenerPath = '/tmp/tsrun-test-none.sock';
      p.syscalls!.push({ names: [name], action: 'SCMP_ACT_NOTIFY' });
    }));
    const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, `SCMP_ACT_NOTIFY cannot be used for the ${name} syscall`);
  }
});

t.run();
