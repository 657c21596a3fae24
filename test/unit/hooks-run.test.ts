// The async hook runner (prestart, createRuntime, poststart, poststop) with real processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HookError, hookStateJson, runHook, runHooks, runHooksCollecting, runHooksLogged } from '../../hooks/index.js';
import { OUTPUT_LIMIT } from '../../hooks/command.js';
import { makeTempDir, nulList, recorderScript, removeTempDir, sampleState, script } from './hooks-helpers.js';

let dir = '';
test.before.each(() => {
  dir = makeTempDir();
});
test.after.each(() => {
  removeTempDir(dir);
});

async function hookError(p: Promise<unknown>): Promise<HookError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, HookError);
    return e as HookError;
  }
  assert.unreachable('expected a HookError, the hook succeeded');
  throw new Error('unreachable');
}

test('state JSON on stdin, argv[0] and args exactly, env exactly, runtime namespaces', async () => {
  const rec = recorderScript(dir);
  const out = join(dir, 'out');
  mkdirSync(out);
  const state = sampleState();
  // busybox picks its applet from argv[0]: "sh" only works if argv[0] is passed as given.
  await runHooks('createRuntime', [{ path: '/bin/busybox', args: ['sh', rec, out, 'two words', ''], env: ['A=1', 'B=x=y', 'EMPTY='] }], state);
  const stdin = JSON.parse(readFileSync(join(out, 'stdin'), 'utf8'));
  assert.equal(stdin, { ociVersion: '1.2.0', id: 'hook-test', status: 'creating', pid: 4242, bundle: '/var/lib/tsrun-test/bundle', annotations: state.annotations });
  assert.equal(nulList(readFileSync(join(out, 'cmdline'), 'utf8')), ['sh', rec, out, 'two words', '']);
  assert.equal(nulList(readFileSync(join(out, 'environ'), 'utf8')), ['A=1', 'B=x=y', 'EMPTY=']);
  assert.is(readFileSync(join(out, 'uts'), 'utf8').trim(), readlinkSync('/proc/self/ns/uts'));
  assert.is(readFileSync(join(out, 'mnt'), 'utf8').trim(), readlinkSync('/proc/self/ns/mnt'));
});

test('a shebang script gets its args; no env means an empty environment', async () => {
  const rec = recorderScript(dir);
  const out = join(dir, 'out');
  mkdirSync(out);
  await runHooks('poststart', [{ path: rec, args: ['recorder', out, 'x'] }], sampleState({ status: 'running' }));
  // The kernel puts the interpreter and the script path in front for a #! script.
  assert.equal(nulList(readFileSync(join(out, 'cmdline'), 'utf8')), ['/bin/sh', rec, out, 'x']);
  assert.equal(nulList(readFileSync(join(out, 'environ'), 'utf8')), []);
  assert.is(JSON.parse(readFileSync(join(out, 'stdin'), 'utf8')).status, 'running');
});

test('no args: argv is [path]', async () => {
  const h = script(dir, 'argv.sh', 'echo "$#:$0" > "$(dirname "$0")/argv"');
  await runHooks('prestart', [{ path: h }], sampleState());
  assert.is(readFileSync(join(dir, 'argv'), 'utf8').trim(), `0:${h}`);
});

test('exit 3: HookError with kind, index, path, status and the first stderr line', async () => {
  const ok = script(dir, 'ok.sh', 'exit 0');
  const bad = script(dir, 'bad.sh', 'echo "to stdout"\necho "" >&2\necho "mount failed: EPERM" >&2\necho "second line" >&2\nexit 3');
  const e = await hookError(runHooks('createRuntime', [{ path: ok }, { path: bad }], sampleState()));
  assert.is(e.kind, 'createRuntime');
  assert.is(e.index, 1);
  assert.is(e.path, bad);
  assert.equal(e.failure, { type: 'exit', code: 3 });
  assert.is(e.reason, 'exit status 3');
  assert.is(e.message, `createRuntime hook #1 (${bad}) failed: exit status 3: mount failed: EPERM`);
  assert.match(e.output, 'second line');
});

test('stdout is reported when stderr is empty', async () => {
  const bad = script(dir, 'bad.sh', 'echo "only stdout"\nexit 1');
  const e = await hookError(runHooks('poststart', [{ path: bad }], sampleState()));
  assert.is(e.message, `poststart hook #0 (${bad}) failed: exit status 1: only stdout`);
});

test('killed by a signal is a failure', async () => {
  const h = script(dir, 'sig.sh', 'kill -TERM $$');
  const e = await hookError(runHooks('prestart', [{ path: h }], sampleState()));
  assert.equal(e.failure, { type: 'signal', signal: 15 });
  assert.match(e.message, 'killed by signal 15 (SIGTERM)');
});

test('a hook past its timeout is killed and the runner returns within timeout + slack', async () => {
  const h = script(dir, 'slow.sh', 'echo started >&2\nexec sleep 30');
  const t0 = Date.now();
  const e = await hookError(runHooks('createRuntime', [{ path: h, timeout: 1 }], sampleState()));
  const took = Date.now() - t0;
  assert.equal(e.failure, { type: 'timeout', seconds: 1 });
  assert.is(e.message, `createRuntime hook #0 (${h}) failed: timed out after 1s (killed): started`);
  assert.ok(took >= 950 && took < 1800, `took ${took} ms`);
});

test('a hook that exits in time is not affected by its timeout', async () => {
  const h = script(dir, 'quick.sh', 'sleep 0.1');
  await runHooks('createRuntime', [{ path: h, timeout: 5 }], sampleState());
});

test('a missing path, a non-executable file and a relative path give clear errors', async () => {
  const missing = join(dir, 'nope');
  let e = await hookError(runHooks('poststart', [{ path: missing }], sampleState()));
  assert.is(e.message, `poststart hook #0 (${missing}) failed: cannot execute: no such file or directory (ENOENT)`);

  const plain = join(dir, 'plain');
  script(dir, 'plain', 'exit 0');
  chmodSync(plain, 0o644);
  e = await hookError(runHooks('poststart', [{ path: plain }], sampleState()));
  assert.equal(e.failure, { type: 'exec', code: 'EACCES' });

  e = await hookError(runHooks('poststart', [{ path: 'bin/true' }], sampleState()));
  assert.is(e.message, 'poststart hook #0 (bin/true) failed: path "bin/true" is not absolute');

  e = await hookError(runHooks('poststart', [{ path: '/bin/true', timeout: 0 }], sampleState()));
  assert.match(e.message, 'timeout 0 must be a number of seconds greater than zero');
});

test('hooks run in order; the first failure stops the later ones', async () => {
  const log = join(dir, 'order');
  const mk = (name: string, code: number) => script(dir, `${name}.sh`, `echo ${name} >> ${log}\nexit ${code}`);
  await runHooks('createRuntime', [{ path: mk('a', 0) }, { path: mk('b', 0) }, { path: mk('c', 0) }], sampleState());
  assert.is(readFileSync(log, 'utf8'), 'a\nb\nc\n');
  const e = await hookError(runHooks('createRuntime', [{ path: mk('d', 0) }, { path: mk('e', 4) }, { path: mk('f', 0) }], sampleState()));
  assert.is(e.index, 1);
  assert.is(readFileSync(log, 'utf8'), 'a\nb\nc\nd\ne\n');
});

test('poststop: every hook runs, failures are returned', async () => {
  const log = join(dir, 'order');
  const mk = (name: string, code: number) => script(dir, `${name}.sh`, `echo ${name} >> ${log}\necho ${name}-err >&2\nexit ${code}`);
  const hooks = [{ path: mk('a', 1) }, { path: mk('b', 0) }, { path: join(dir, 'missing') }, { path: mk('c', 2) }];
  const messages = await runHooksLogged('poststop', hooks, sampleState({ status: 'stopped' }));
  assert.is(readFileSync(log, 'utf8'), 'a\nb\nc\n');
  assert.equal(messages, [
    `poststop hook #0 (${hooks[0].path}) failed: exit status 1: a-err`,
    `poststop hook #2 (${hooks[2].path}) failed: cannot execute: no such file or directory (ENOENT)`,
    `poststop hook #3 (${hooks[3].path}) failed: exit status 2: c-err`,
  ]);
  const errors = await runHooksCollecting('poststop', hooks, sampleState({ status: 'stopped' }));
  assert.equal(errors.map((x) => x.index), [0, 2, 3]);
  assert.equal(await runHooksLogged('poststop', undefined, sampleState()), []);
});

test('no hooks: nothing happens', async () => {
  await runHooks('prestart', undefined, sampleState());
  await runHooks('prestart', [], sampleState());
});

test('a state larger than the pipe buffer: a hook that never reads does not block, one that reads gets all', async () => {
  const state = sampleState({ annotations: { big: 'x'.repeat(300_000) } });
  const json = hookStateJson(state);
  assert.ok(json.length > 300_000);
  const t0 = Date.now();
  await runHooks('createRuntime', [{ path: script(dir, 'deaf.sh', 'sleep 0.2'), timeout: 5 }], state);
  assert.ok(Date.now() - t0 < 3000);
  // Never reads and never exits: only the timeout ends it.
  const t1 = Date.now();
  const e = await hookError(runHooks('createRuntime', [{ path: script(dir, 'stuck.sh', 'exec sleep 30'), timeout: 1 }], state));
  assert.is(e.failure.type, 'timeout');
  assert.ok(Date.now() - t1 < 2500, `stuck hook took ${Date.now() - t1} ms`);
  const count = join(dir, 'count');
  await runHooks('createRuntime', [{ path: script(dir, 'wc.sh', `wc -c > ${count}`) }], state);
  assert.is(Number(readFileSync(count, 'utf8').trim()), Buffer.byteLength(json));
});

test('output is bounded and a flood of output does not block', async () => {
  const h = script(dir, 'flood.sh', 'head -c 2000000 /dev/zero | tr "\\0" a\nhead -c 200000 /dev/zero | tr "\\0" b >&2\nexit 1');
  const e = await hookError(runHooks('poststart', [{ path: h }], sampleState()));
  assert.ok(e.output.startsWith('b'.repeat(OUTPUT_LIMIT)));
  assert.ok(e.output.length < OUTPUT_LIMIT + 100, `output length ${e.output.length}`);
  assert.match(e.output, `(${200_000 - OUTPUT_LIMIT} more bytes)`);
  assert.ok(e.message.length < 400);
});

test('a background child holding the output pipes does not keep the runner waiting', async () => {
  const pidFile = join(dir, 'bgpid');
  const h = script(dir, 'bg.sh', `sleep 20 &\necho $! > ${pidFile}\nexit 0`);
  const t0 = Date.now();
  try {
    await runHook('poststart', 0, { path: h }, hookStateJson(sampleState()));
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
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

/** fds above 2 this test process got without close-on-exec from whoever started it. */
function inheritedFds(): number[] {
  return readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      if (fd < 3) return false;
      try {
        const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
        return flags !== undefined && (parseInt(flags, 8) & 0o2000000) === 0;
      } catch {
        return false; // the fd readdir itself used
      }
    });
}

test('no fd that Node or the runner opened leaks into the hook', async () => {
  // `ls` opens the directory as fd 3. Non-CLOEXEC fds tsrun itself was started with do go through
  // child_process.spawn (this machine's job runner leaves one); everything else would be a leak.
  const expected = [...new Set([0, 1, 2, 3, ...inheritedFds()])].sort((a, b) => a - b);
  const e = await hookError(runHooks('prestart', [{ path: '/bin/busybox', args: ['sh', '-c', 'ls /proc/self/fd >&2; exit 1'] }], sampleState()));
  assert.equal(e.output.trim().split(/\s+/).map(Number).sort((a, b) => a - b), expected);
});

test('hookStateJson keeps only the OCI fields', () => {
  const s = { ...sampleState(), rootfs: '/r', created: 'now', owner: '' };
  assert.equal(Object.keys(JSON.parse(hookStateJson(s))), ['ociVersion', 'id', 'status', 'pid', 'bundle', 'annotations']);
  const stopped = JSON.parse(hookStateJson({ ociVersion: '1.2.0', id: 'a', status: 'stopped', bundle: '/b' }));
  assert.equal(stopped, { ociVersion: '1.2.0', id: 'a', status: 'stopped', bundle: '/b' });
});

test.run();
