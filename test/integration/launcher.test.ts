// The `sh` launcher (runtime/bin/tsrun) and start.cjs: the command word the launcher finds (past
// global flags and their values) picks the bundle and the V8 code cache start.cjs runs from.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox, TOP, run } from '../support/containers.js';

const t = suite('launcher');
// A private copy of the launcher, start.cjs and the bundles, so that its dist/code-cache is this
// file's own: the other test files (two run at once) write the shared one whenever they run a command.
const COPY = mkdtempSync(join(tmpdir(), 'tsrun-test-launcher-copy-'));
for (const f of ['runtime/bin/tsrun', 'runtime/bin/start.cjs', 'dist/tsrun.cjs', 'dist/tsrun-core.cjs']) {
  mkdirSync(join(COPY, f, '..'), { recursive: true });
  copyFileSync(join(TOP, f), join(COPY, f));
}
symlinkSync(join(TOP, 'node_modules'), join(COPY, 'node_modules'));
const TSRUN = join(COPY, 'runtime/bin/tsrun');
const CACHE = join(COPY, 'dist', 'code-cache');
t.after(() => rmSync(COPY, { recursive: true, force: true }));
let dir: string;
t.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsrun-test-launcher-'));
});
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

/** The code-cache files a command's run uses (bundle and command in the name); removed first. */
function cachesAfter(pattern: RegExp, args: string[], env: NodeJS.ProcessEnv = process.env): { files: string[]; code: number; stderr: string } {
  if (existsSync(CACHE)) for (const f of readdirSync(CACHE)) if (pattern.test(f)) unlinkSync(join(CACHE, f));
  const r = run(args[0], args.slice(1), { env });
  return { files: existsSync(CACHE) ? readdirSync(CACHE).filter((f) => pattern.test(f)) : [], code: r.code, stderr: r.stderr };
}

t('query commands run the core bundle with a cache of their own, past global flags and their values', () => {
  const state = cachesAfter(/-tsrun-core-.*-state\.bin$/, [TSRUN, '--root', dir, '--log-format', 'json', 'state', 'nope']);
  assert.is(state.code, 1);
  assert.match(state.stderr, 'nope');
  assert.equal(state.files, [], 'no cache from a failed run');
  const list = cachesAfter(/-tsrun-core-.*-list\.bin$/, [TSRUN, '--log', join(dir, 'log'), '--root', dir, 'list']);
  assert.is(list.code, 0, list.stderr);
  assert.is(list.files.length, 1, 'list: --log and --root values skipped');
});

t('create/run/exec run the full bundle under the fork flags; start.cjs by hand runs the full bundle', () => {
  const sb = new Sandbox();
  try {
    const exec = cachesAfter(/---single-threaded_--max-semi-space-size=1-tsrun-\d.*-exec\.bin$/, [TSRUN, '--root', dir, 'exec', 'nope', 'true']);
    assert.is.not(exec.code, 0);
    assert.match(exec.stderr, 'nope');
    assert.equal(exec.files, [], 'no cache from a failed run');
    const runs = cachesAfter(/---single-threaded_--max-semi-space-size=1-tsrun-\d.*-run\.bin$/, [TSRUN, '--root', sb.root, 'run', '--bundle', sb.bundle(['true']), sb.id()]);
    assert.is(runs.code, 0, runs.stderr);
    assert.is(runs.files.length, 1);
  } finally {
    sb.cleanup();
  }
  const byHand = cachesAfter(/-x64--tsrun-\d.*-other\.bin$|-arm64--tsrun-\d.*-other\.bin$/, [process.execPath, join(COPY, 'runtime/bin/start.cjs'), '--version']);
  assert.is(byHand.code, 0, byHand.stderr);
  assert.is(byHand.files.length, 1);
});

t("a new cache replaces that command's caches for earlier builds of the bundle, and only those", () => {
  const listCache = /-tsrun-core-\d+-\d+-list\.bin$/;
  const first = cachesAfter(listCache, [TSRUN, '--root', dir, 'list']);
  assert.is(first.files.length, 1, first.stderr);
  const staleList = first.files[0].replace(/-\d+-\d+-list\.bin$/, '-1-2-list.bin');
  const otherCommand = first.files[0].replace(/-\d+-\d+-list\.bin$/, '-1-2-kill.bin');
  const otherBundle = first.files[0].replace(/-tsrun-core-\d+-\d+-list\.bin$/, '-tsrun-1-2-list.bin');
  unlinkSync(join(CACHE, first.files[0])); // so that the next run makes it again
  for (const f of [staleList, otherCommand, otherBundle]) writeFileSync(join(CACHE, f), 'x');
  try {
    const again = run(TSRUN, ['--root', dir, 'list']);
    assert.is(again.code, 0, again.stderr);
    const now = readdirSync(CACHE);
    assert.ok(now.includes(first.files[0]), 'the current cache stays');
    assert.not.ok(now.includes(staleList), 'the earlier build of list is gone');
    assert.ok(now.includes(otherCommand) && now.includes(otherBundle), 'kill, and list of the other bundle, are kept');
  } finally {
    for (const f of [staleList, otherCommand, otherBundle]) rmSync(join(CACHE, f), { force: true });
  }
});

t('a failed run, a usage error (an unknown command word, a bad flag) or --help leaves no code cache', () => {
  const typo = cachesAfter(/-frobnicate\.bin$/, [TSRUN, 'frobnicate']);
  assert.is(typo.code, 2);
  assert.match(typo.stderr, 'unknown command "frobnicate"');
  assert.equal(typo.files, []);
  const badFlag = cachesAfter(/-tsrun-core-.*-state\.bin$/, [TSRUN, 'state', '--bogus', 'x']);
  assert.is(badFlag.code, 2);
  assert.equal(badFlag.files, []);
  // A broken config.json fails before the validator: a cache made then would lack it for good.
  const broken = join(dir, 'bundle');
  mkdirSync(broken);
  writeFileSync(join(broken, 'config.json'), '{');
  const createCache = /---single-threaded_--max-semi-space-size=1-tsrun-\d.*-create\.bin$/;
  const create = cachesAfter(createCache, [TSRUN, '--root', dir, 'create', '--bundle', broken, 'x']);
  assert.is(create.code, 1);
  assert.equal(create.files, []);
  const help = cachesAfter(createCache, [TSRUN, 'create', '--help']);
  assert.is(help.code, 0, help.stderr);
  assert.equal(help.files, [], 'nor does --help, which runs none of the command');
});

t("Node's own environment does not reach tsrun: NODE_OPTIONS (--require, --inspect), NODE_V8_COVERAGE, NODE_PATH", () => {
  const coverage = join(dir, 'coverage');
  const env = {
    ...process.env,
    NODE_OPTIONS: '--require /nonexistent/tsrun-test.js --inspect=127.0.0.1:0',
    NODE_V8_COVERAGE: coverage,
    NODE_PATH: '/nonexistent',
  };
  const sb = new Sandbox();
  try {
    for (const args of [['--version'], ['--root', dir, 'list'], ['--root', sb.root, 'run', '--bundle', sb.bundle(['true']), sb.id()]]) {
      const r = run(TSRUN, args, { env });
      assert.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.not.match(r.stderr, /Debugger listening|Cannot find module/);
    }
  } finally {
    sb.cleanup();
  }
  assert.not.ok(existsSync(coverage), 'no coverage files written');
});

t.run();
