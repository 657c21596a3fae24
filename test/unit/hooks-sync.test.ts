// runHookSync: the Sys-only hook runner the forked init uses (createContainer, startContainer).
// Exercised in this process, from a forked child (as in the init), and against the recording double.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HookError, hookStateBuffer, runHookSync } from '../../hooks/index.js';
import { OUTPUT_LIMIT } from '../../hooks/command.js';
import { linuxSys } from '../../runtime/sys/linux.js';
import { createRecordingSys } from '../../runtime/sys/recording.js';
import { CLONE, CLOSE_RANGE_CLOEXEC, F } from '../../runtime/sys/constants.js';
import type { Hook } from '../../spec/types.js';
import { inFork, makeTempDir, nulList, recorderScript, removeTempDir, sampleState, script } from './hooks-helpers.js';

const sys = linuxSys;
let dir = '';
test.before.each(() => {
  dir = makeTempDir();
});
test.after.each(() => {
  removeTempDir(dir);
});

const stateBuf = () => hookStateBuffer(sampleState({ status: 'created' }));

function syncError(hook: Hook, state = stateBuf(), kind: 'createContainer' | 'startContainer' = 'startContainer', index = 0): HookError {
  try {
    runHookSync(sys, hook, state, kind, index);
  } catch (e) {
    assert.instance(e, HookError);
    return e as HookError;
  }
  assert.unreachable('expected a HookError, the hook succeeded');
  throw new Error('unreachable');
}

/** Runs hooks in a forked child; the child answers with the HookError's fields or "ok". */
function syncInFork(hooks: Hook[], state: Buffer, prelude?: (s: typeof sys) => void) {
  const r = inFork((s) => {
    prelude?.(s);
    try {
      hooks.forEach((h, i) => runHookSync(s, h, state, 'createContainer', i));
      return JSON.stringify({ ok: true });
    } catch (e) {
      const he = e as HookError;
      return JSON.stringify({ ok: false, name: he.name, message: he.message, index: he.index, failure: he.failure, output: he.output });
    }
  });
  assert.is(r.code, 0, `child exit ${r.code} signal ${r.signal}: ${r.message}`);
  return JSON.parse(r.message) as { ok: boolean; name?: string; message?: string; index?: number; failure?: unknown; output?: string };
}

test('in process: state on stdin, argv[0] and args exactly, env exactly', () => {
  const rec = recorderScript(dir);
  const out = join(dir, 'out');
  mkdirSync(out);
  const state = stateBuf();
  runHookSync(sys, { path: '/bin/busybox', args: ['sh', rec, out, 'two words', ''], env: ['A=1', 'B=x=y', 'A=2'] }, state, 'createContainer', 0);
  assert.is(readFileSync(join(out, 'stdin'), 'utf8'), state.toString());
  assert.equal(nulList(readFileSync(join(out, 'cmdline'), 'utf8')), ['sh', rec, out, 'two words', '']);
  // execve gets the list as it is, duplicates included.
  assert.equal(nulList(readFileSync(join(out, 'environ'), 'utf8')), ['A=1', 'B=x=y', 'A=2']);
  assert.is(readFileSync(join(out, 'uts'), 'utf8').trim(), readlinkSync('/proc/self/ns/uts'));
});

test('in process: no args and no env', () => {
  const h = script(dir, 'argv.sh', 'echo "$#:$0" > "$(dirname "$0")/argv"\ncat /proc/$$/environ > "$(dirname "$0")/env"');
  runHookSync(sys, { path: h }, stateBuf(), 'startContainer', 0);
  assert.is(readFileSync(join(dir, 'argv'), 'utf8').trim(), `0:${h}`);
  assert.is(readFileSync(join(dir, 'env'), 'utf8'), '');
});

test('in process: exit status, signal, stdout fallback', () => {
  const bad = script(dir, 'bad.sh', 'echo out\necho "first problem" >&2\necho more >&2\nexit 3');
  let e = syncError({ path: bad }, stateBuf(), 'createContainer', 2);
  assert.is(e.message, `createContainer hook #2 (${bad}) failed: exit status 3: first problem`);
  assert.equal(e.failure, { type: 'exit', code: 3 });
  assert.is(e.kind, 'createContainer');
  assert.is(e.index, 2);
  assert.is(e.path, bad);
  assert.is(e.reason, 'exit status 3');

  e = syncError({ path: script(dir, 'sig.sh', 'kill -KILL $$') });
  assert.equal(e.failure, { type: 'signal', signal: 9 });
  assert.match(e.message, 'killed by signal 9 (SIGKILL)');

  e = syncError({ path: script(dir, 'quiet.sh', 'echo "said on stdout"\nexit 7') });
  assert.match(e.message, 'exit status 7: said on stdout');
});

test('in process: exit status 127 from the hook itself is not an exec failure', () => {
  const e = syncError({ path: script(dir, 'x.sh', 'exit 127') });
  assert.equal(e.failure, { type: 'exit', code: 127 });
});

test('in process: missing, non-executable, directory, relative path', () => {
  const missing = join(dir, 'missing');
  let e = syncError({ path: missing });
  assert.is(e.message, `startContainer hook #0 (${missing}) failed: cannot execute: no such file or directory (ENOENT)`);
  const plain = join(dir, 'plain');
  script(dir, 'plain', 'exit 0');
  sys.chmod(plain, 0o644);
  e = syncError({ path: plain });
  assert.equal(e.failure, { type: 'exec', code: 'EACCES' });
  e = syncError({ path: dir });
  assert.equal(e.failure, { type: 'exec', code: 'EACCES' });
  e = syncError({ path: 'usr/bin/true' });
  assert.match(e.message, 'path "usr/bin/true" is not absolute');
});

test('in process: timeout kills the hook; returns within timeout + slack', () => {
  const h = script(dir, 'slow.sh', 'echo waiting >&2\nexec sleep 30');
  const t0 = Date.now();
  const e = syncError({ path: h, timeout: 1 });
  const took = Date.now() - t0;
  assert.equal(e.failure, { type: 'timeout', seconds: 1 });
  assert.is(e.message, `startContainer hook #0 (${h}) failed: timed out after 1s (killed): waiting`);
  assert.ok(took >= 950 && took < 2000, `took ${took} ms`);
});

test('in process: a big state and a hook that never reads it', () => {
  const big = hookStateBuffer(sampleState({ annotations: { big: 'y'.repeat(500_000) } }));
  const t0 = Date.now();
  runHookSync(sys, { path: script(dir, 'deaf.sh', 'sleep 0.2'), timeout: 5 }, big, 'createContainer', 0);
  assert.ok(Date.now() - t0 < 2000);
  const t1 = Date.now();
  const e = syncError({ path: script(dir, 'stuck.sh', 'exec sleep 30'), timeout: 1 }, big);
  assert.is(e.failure.type, 'timeout');
  assert.ok(Date.now() - t1 < 2500, `stuck hook took ${Date.now() - t1} ms`);
  const count = join(dir, 'count');
  runHookSync(sys, { path: script(dir, 'wc.sh', `wc -c > ${count}`) }, big, 'createContainer', 0);
  assert.is(Number(readFileSync(count, 'utf8').trim()), big.length);
});

test('in process: output flood is bounded and does not block', () => {
  const h = script(dir, 'flood.sh', 'head -c 3000000 /dev/zero | tr "\\0" a\nhead -c 300000 /dev/zero | tr "\\0" b >&2\nexit 1');
  const e = syncError({ path: h, timeout: 10 });
  assert.ok(e.output.startsWith('b'.repeat(OUTPUT_LIMIT)));
  assert.match(e.output, `(${300_000 - OUTPUT_LIMIT} more bytes)`);
  assert.ok(e.output.length < OUTPUT_LIMIT + 100);
});

test('in process: a background child holding the pipes does not keep the runner waiting', () => {
  const pidFile = join(dir, 'bgpid');
  const h = script(dir, 'bg.sh', `sleep 20 &\necho $! > ${pidFile}\necho bye >&2\nexit 0`);
  const t0 = Date.now();
  try {
    runHookSync(sys, { path: h }, stateBuf(), 'startContainer', 0);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  } finally {
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});

test('in process: only fds 0-2 reach the hook', () => {
  // `ls` opens the directory as fd 3; every fd of this process (CLOEXEC or not) must be gone.
  const e = syncError({ path: '/bin/busybox', args: ['sh', '-c', 'ls /proc/self/fd >&2; exit 1'] });
  assert.equal(e.output.trim().split(/\s+/), ['0', '1', '2', '3']);
});

test('in process: no fd is left open and no child is left behind', () => {
  const before = readFdList();
  const childrenBefore = readChildren();
  runHookSync(sys, { path: '/bin/true' }, stateBuf(), 'startContainer', 0);
  syncError({ path: '/bin/false' });
  syncError({ path: join(dir, 'missing') });
  syncError({ path: '/bin/sleep', args: ['sleep', '5'], timeout: 1 });
  assert.equal(readFdList(), before);
  // Every hook was reaped (a zombie would still be listed as a child).
  assert.equal(readChildren(), childrenBefore);
});

function readChildren(): string {
  return readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').trim();
}

function readFdList(): string[] {
  return readdirSync('/proc/self/fd').sort();
}

test('forked child in its own UTS namespace: the hook runs in the child namespaces', () => {
  const rec = recorderScript(dir);
  const out = join(dir, 'out');
  mkdirSync(out);
  const state = stateBuf();
  let childUts = '';
  const r = inFork(
    (s) => {
      s.unshare(CLONE.NEWUTS);
      s.sethostname('tsrun-hook-test');
      runHookSync(s, { path: '/bin/busybox', args: ['sh', rec, out, 'arg'], env: ['X=1'] }, state, 'createContainer', 0);
      runHookSync(s, { path: '/bin/busybox', args: ['sh', '-c', `hostname > ${out}/hostname`] }, state, 'startContainer', 1);
      return s.readlink('/proc/self/ns/uts');
    },
    (pid) => {
      childUts = readlinkSync(`/proc/${pid}/ns/uts`);
    },
  );
  assert.is(r.code, 0, r.message);
  assert.is(r.message, childUts);
  assert.is.not(childUts, readlinkSync('/proc/self/ns/uts'));
  assert.is(readFileSync(join(out, 'uts'), 'utf8').trim(), childUts);
  assert.is(readFileSync(join(out, 'hostname'), 'utf8').trim(), 'tsrun-hook-test');
  assert.is(readFileSync(join(out, 'stdin'), 'utf8'), state.toString());
  assert.equal(nulList(readFileSync(join(out, 'cmdline'), 'utf8')), ['sh', rec, out, 'arg']);
  assert.equal(nulList(readFileSync(join(out, 'environ'), 'utf8')), ['X=1']);
});

test('forked child: failures come back as HookError, later hooks do not run', () => {
  const log = join(dir, 'order');
  const mk = (name: string, code: number) => script(dir, `${name}.sh`, `echo ${name} >> ${log}\necho ${name}-failed >&2\nexit ${code}`);
  let res = syncInFork([{ path: mk('a', 0) }, { path: mk('b', 5) }, { path: mk('c', 0) }], stateBuf());
  assert.equal(res.ok, false);
  assert.is(res.name, 'HookError');
  assert.is(res.index, 1);
  assert.equal(res.failure, { type: 'exit', code: 5 });
  assert.is(res.message, `createContainer hook #1 (${join(dir, 'b.sh')}) failed: exit status 5: b-failed`);
  assert.is(readFileSync(log, 'utf8'), 'a\nb\n');

  res = syncInFork([{ path: join(dir, 'nope') }], stateBuf());
  assert.equal(res.failure, { type: 'exec', code: 'ENOENT' });
});

test('forked child: timeout and a big unread state', () => {
  const big = hookStateBuffer(sampleState({ annotations: { big: 'z'.repeat(200_000) } }));
  const t0 = Date.now();
  const res = syncInFork([{ path: script(dir, 'deaf.sh', 'sleep 0.1') }, { path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }], big);
  const took = Date.now() - t0;
  assert.equal(res.failure, { type: 'timeout', seconds: 1 });
  assert.is(res.index, 1);
  assert.ok(took < 2500, `took ${took} ms`);
  const count = join(dir, 'count');
  assert.equal(syncInFork([{ path: script(dir, 'wc.sh', `wc -c > ${count}`) }], big), { ok: true });
  assert.is(Number(readFileSync(count, 'utf8').trim()), big.length);
});

test('recording double: the hook side dups the pipes to 0-2, resets signals, closes the rest, execs', () => {
  let nextFd = 50;
  const rs = createRecordingSys({
    results: {
      fork: 0, // be the child
      pipe2: () => [nextFd++, nextFd++],
      fcntl: (fd: number, cmd: number) => (cmd === F.DUPFD_CLOEXEC ? 100 + fd : 0),
      execve: () => {
        throw Object.assign(new Error('execve'), { errno: 2 });
      },
    },
  });
  assert.throws(() => runHookSync(rs, { path: '/hook', args: ['h', 'a'], env: ['E=1'] }, Buffer.from('{}'), 'createContainer', 0), /exit\(127\)/);
  const names = rs.callNames();
  assert.equal(names.slice(0, 5), ['pipe2', 'pipe2', 'pipe2', 'pipe2', 'fork']);
  const after = rs.calls.slice(5).map((c) => [c.call, ...c.args.filter((a) => typeof a === 'number' || typeof a === 'string' || Array.isArray(a))]);
  // stdin read end 50, stdout write end 53, stderr write end 55 (pipes 50/51, 52/53, 54/55, 56/57)
  assert.equal(after, [
    ['fcntl', 50, F.DUPFD_CLOEXEC, 3],
    ['fcntl', 53, F.DUPFD_CLOEXEC, 3],
    ['fcntl', 55, F.DUPFD_CLOEXEC, 3],
    ['dup3', 150, 0, 0],
    ['dup3', 153, 1, 0],
    ['dup3', 155, 2, 0],
    ['fcntl', 0, F.SETFD, 0],
    ['fcntl', 1, F.SETFD, 0],
    ['fcntl', 2, F.SETFD, 0],
    ['resetSignals'],
    ['closeRange', 3, 0xffffffff, CLOSE_RANGE_CLOEXEC],
    ['execve', '/hook', ['h', 'a'], ['E=1']],
    ['write', 57],
    ['exit', 127],
    // the double's exit throws; the runner then closes its fds (the real child never gets here)
    ...[50, 51, 52, 53, 54, 55, 56, 57].map((fd) => ['close', fd]),
  ]);
});

test.run();
