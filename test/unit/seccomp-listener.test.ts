// Handing the seccomp notify listener to an agent: the ContainerProcessState payload and the fd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxSys as sys } from '../../runtime/sys/linux.js';
import { sendSeccompListener, sendSeccompState, containerProcessState } from '../../runtime/seccomp/index.js';
import type { State } from '../../spec/types.js';

const state: State = {
  ociVersion: '1.2.0', id: 'tsrun-test-notify', status: 'created', pid: 4242, bundle: '/tmp/bundle',
  annotations: { 'io.example/agent': 'yes' },
};

test('ContainerProcessState has the runtime-spec shape', () => {
  assert.equal(containerProcessState(state, 4242, 'meta'), {
    ociVersion: '1.2.0', fds: ['seccompFd'], pid: 4242, metadata: 'meta', state,
  });
  assert.not.ok('metadata' in containerProcessState(state, 1));
});

test('the listener fd and the state JSON travel together (SCM_RIGHTS over a socketpair)', () => {
  const [a, b] = sys.socketpair(1, 1, 0);
  const [pr, pw] = sys.pipe2(0o2000000);
  let received = -1;
  try {
    sendSeccompState(sys, a, pw, containerProcessState(state, 4242, 'agent-meta'));
    const { fd, payload } = sys.recvFd(b, 65536);
    received = fd;
    const msg = JSON.parse(payload.toString());
    assert.equal(msg, { ociVersion: '1.2.0', fds: ['seccompFd'], pid: 4242, metadata: 'agent-meta', state });
    const sent = sys.fstat(pw);
    const got = sys.fstat(fd);
    assert.is(got.ino, sent.ino, 'received fd is the sent one');
    assert.ok(fd !== pw);
    sys.write(fd, 'x');
    const buf = Buffer.alloc(1);
    assert.is(sys.read(pr, buf), 1);
  } finally {
    for (const fd of [a, b, pr, pw, received]) if (fd >= 0) sys.close(fd);
  }
});

test('sendSeccompListener connects to listenerPath and sends the state', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-seccomp-'));
  const path = join(dir, 'agent.sock');
  const server = createServer();
  try {
    const data = new Promise<string>((resolve, reject) => {
      server.on('connection', (c) => {
        let text = '';
        c.on('data', (d) => (text += d));
        c.on('end', () => resolve(text));
        c.on('error', reject);
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const [pr, pw] = sys.pipe2(0o2000000);
    try {
      sendSeccompListener(sys, path, pw, state, 'm');
    } finally {
      sys.close(pr);
      sys.close(pw);
    }
    // Node's net cannot take the fd (the kernel closes it for us); the payload arrives.
    assert.equal(JSON.parse(await data), { ociVersion: '1.2.0', fds: ['seccompFd'], pid: 4242, metadata: 'm', state });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sendSeccompListener: a missing agent socket is a SyscallError naming the path', () => {
  assert.throws(() => sendSeccompListener(sys, '/nonexistent/tsrun-test-agent.sock', 0, state), /connect \/nonexistent\/tsrun-test-agent.sock: ENOENT/);
});

test.run();
