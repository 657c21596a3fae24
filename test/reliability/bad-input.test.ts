// Bad input, end to end through the real CLI.
// Guarantees:
//   - every config in test/fixtures/bad-configs is refused by `tsrun create`: exit 1, one error naming
//     the config file and the JSON path (or line/column), and nothing left behind
//   - bad command lines (unknown flag or command, missing id, bad signal) are usage errors (exit 2)
//     that change nothing
//   - a corrupt, truncated or foreign state file is a clear error naming the file, and
//     `delete --force` still stops the container and removes its state and cgroups
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, TOP } from '../support/containers.js';
import { describe, isClean, leftovers, settledLeftovers } from './leaks.js';
import { processStartTime } from '../../runtime/process/proc.js';

let sb: Sandbox;
const fresh = () => {
  sb = new Sandbox();
};

async function assertNothingLeft(what: string) {
  const l = await settledLeftovers(sb);
  assert.ok(isClean(l), `${what}: left behind ${describe(l)}`);
}

// ---------------------------------------------------------------------------------------------
const configs = suite('every broken config.json is refused by tsrun create, naming the JSON path, leaving nothing');
const corpus = join(TOP, 'test/fixtures/bad-configs');
const expected: Record<string, { path?: string; message?: string }> = JSON.parse(readFileSync(join(corpus, 'expected.json'), 'utf8'));
const files = readdirSync(corpus).filter((f) => f !== 'expected.json').sort();
configs.before(fresh);
configs.after(() => sb.cleanup());

configs('the corpus has at least 60 broken configs', () => {
  assert.ok(files.length >= 60, `only ${files.length}`);
});

for (const file of files) {
  configs(file, () => {
    const bundle = join(sb.dir, `bundle-${file.replace(/\.json$/, '')}`);
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    copyFileSync(join(corpus, file), join(bundle, 'config.json'));
    const id = sb.id(file.slice(0, 3));
    const r = sb.tsrun(['create', '--bundle', bundle, '--pid-file', join(bundle, 'pid'), id]);
    assert.is(r.code, 1, `exit code ${r.code}: ${r.stderr}`);
    const first = r.stderr.split('\n')[0];
    assert.ok(first.startsWith(`tsrun: ${join(bundle, 'config.json')}: `), `the error names the config file: ${r.stderr}`);
    const want = expected[file];
    if (want.path !== undefined) {
      const shown = want.path === '' ? '/' : want.path;
      assert.ok(r.stderr.includes(`${shown}: `), `the error names ${shown}: ${r.stderr}`);
    } else {
      assert.ok(first.includes(want.message!), `"${want.message}" not in: ${first}`);
    }
    assert.not.ok(r.stderr.includes('    at '), 'no stack trace');
    assert.not.ok(existsSync(join(bundle, 'pid')), 'no pid file');
    const l = leftovers(sb);
    assert.ok(isClean(l), `left behind ${describe(l)}`);
  });
}

configs('afterwards: no process, mount, cgroup or state of the whole corpus remains', async () => {
  await assertNothingLeft('bad-config corpus');
});

configs.run();

// ---------------------------------------------------------------------------------------------
const cli = suite('bad command lines are usage errors that change nothing');
let cliId = '';
cli.before(() => {
  fresh();
  cliId = sb.id('cli');
  const r = sb.tsrun(['create', '--bundle', sb.bundle(['sleep', '100']), cliId]);
  if (r.code !== 0) throw new Error(r.stderr);
});
cli.after(() => sb.cleanup());

const USAGE: [string, (id: string) => string[], RegExp][] = [
  ['unknown global flag', (id) => ['--bogus', 'state', id], /flag provided but not defined: -bogus/],
  ['unknown create flag', (id) => ['create', '--bundel', '.', `${id}-x`], /flag provided but not defined: -bundel/],
  ['unknown kill flag', (id) => ['kill', '--everything', id, 'KILL'], /flag provided but not defined/],
  ['unknown delete flag', (id) => ['delete', '--forcefully', id], /flag provided but not defined/],
  ['flag missing its value', () => ['create', '--bundle'], /flag needs an argument: -bundle/],
  ['unknown command', (id) => ['destroy', id], /unknown command "destroy"/],
  ['no command', () => [], /usage: tsrun/],
  ['create without id', () => ['create', '--bundle', '.'], /"create" requires a container id/],
  ['start without id', () => ['start'], /"start" requires a container id/],
  ['state without id', () => ['state'], /"state" requires a container id/],
  ['kill without id', () => ['kill'], /"kill" requires a container id/],
  ['delete without id', () => ['delete', '--force'], /"delete" requires a container id/],
  ['exec without id', () => ['exec'], /"exec" requires a container id/],
  ['pause without id', () => ['pause'], /"pause" requires a container id/],
  ['two ids', (id) => ['delete', '--force', id, `${id}-2`], /takes exactly one container id/],
  ['bad signal name', (id) => ['kill', id, 'SIGNOPE'], /unknown signal "SIGNOPE"/],
  ['bad signal number', (id) => ['kill', id, '65'], /invalid signal "65"/],
  ['signal 0', (id) => ['kill', id, '0'], /invalid signal "0"/],
  ['negative signal', (id) => ['kill', id, '-9'], /flag provided but not defined: -9/],
  ['kill with extra words', (id) => ['kill', id, 'TERM', 'now'], /takes a container id and a signal/],
  ['bad boolean value', (id) => ['delete', '--force=maybe', id], /invalid boolean value "maybe"/],
  ['bad --preserve-fds', (id) => ['create', '--preserve-fds', 'lots', `${id}-x`], /invalid --preserve-fds "lots"/],
  ['bad --log-format', (id) => ['--log-format', 'xml', 'state', id], /invalid --log-format "xml"/],
  ['bad list --format', () => ['list', '--format', 'yaml'], /invalid --format "yaml"/],
];

for (const [name, args, message] of USAGE) {
  cli(name, () => {
    const r = sb.tsrun(args(cliId));
    assert.is(r.code, 2, `exit ${r.code}: ${r.stderr}${r.stdout}`);
    assert.match(r.stderr + r.stdout, message);
    assert.not.ok(r.stderr.includes('    at '), 'no stack trace');
    assert.equal(readdirSync(sb.root), [cliId], 'no state created or removed');
    assert.is(JSON.parse(sb.tsrun(['state', cliId]).stdout).status, 'created', 'the container was not touched');
  });
}

cli('invalid container ids are refused before anything is made', () => {
  for (const id of ['../escape', 'a/b', '.', '..', 'sp ace', '']) {
    const r = sb.tsrun(['create', '--bundle', sb.bundle(['true']), id]);
    assert.is.not(r.code, 0, `id ${JSON.stringify(id)} accepted`);
    assert.match(r.stderr, /invalid container id|requires a container id/);
  }
  assert.equal(readdirSync(sb.root), [cliId]);
  assert.not.ok(existsSync(join(sb.dir, 'escape')));
});

cli('commands on an unknown id fail with "does not exist"', () => {
  for (const cmd of [['state'], ['start'], ['kill'], ['delete'], ['pause'], ['exec']]) {
    const args = cmd[0] === 'exec' ? ['exec', 'tsrun-test-nope', 'true'] : [...cmd, 'tsrun-test-nope'];
    const r = sb.tsrun(args);
    assert.is(r.code, 1, `${cmd[0]}: ${r.stderr}`);
    assert.match(r.stderr, /"tsrun-test-nope" does not exist/, `${cmd[0]}: ${r.stderr}`);
  }
  assert.is(sb.tsrun(['delete', '--force', 'tsrun-test-nope']).code, 0, 'delete --force of nothing is fine (as runc)');
});

cli('afterwards: the container is still created and delete cleans it', async () => {
  assert.is(sb.tsrun(['delete', '--force', cliId]).code, 0);
  await assertNothingLeft('cli suite');
});

cli.run();

// ---------------------------------------------------------------------------------------------
const corrupt = suite('corrupt or truncated state: a clear error, and delete --force still cleans up');
corrupt.before.each(fresh);
corrupt.after.each(() => sb.cleanup());

type Damage = [string, (text: string, id: string) => string, { salvage: boolean }];
const DAMAGE: Damage[] = [
  ['truncated in half', (t) => t.slice(0, Math.floor(t.length / 2)), { salvage: true }],
  ['truncated after the cgroup paths', (t) => t.slice(0, t.indexOf('"namespaces"') + 5), { salvage: true }],
  ['empty file', () => '', { salvage: true }],
  ['binary garbage', () => '\u0000\u00ff\u0013garbage\u0000'.repeat(40), { salvage: true }],
  ['valid JSON but null', () => 'null', { salvage: true }],
  ['valid JSON of another container', (t, id) => t.split(id).join(`${id}-other`), { salvage: true }],
  ['a record without pid', (t) => JSON.stringify({ ...JSON.parse(t), pid: 'x' }), { salvage: true }],
];

for (const started of [false, true]) {
  for (const [name, damage] of DAMAGE) {
    corrupt(`${started ? 'running' : 'created'} container, ${name}`, async () => {
      const id = sb.id();
      assert.is(sb.tsrun(['create', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
      if (started) assert.is(sb.tsrun(['start', id]).code, 0);
      const stateFile = join(sb.root, id, 'state.json');
      const good = readFileSync(stateFile, 'utf8');
      const pid = JSON.parse(good).pid as number;
      writeFileSync(stateFile, damage(good, id));

      const st = sb.tsrun(['state', id]);
      assert.is(st.code, 1);
      assert.match(st.stderr, `corrupt state file ${stateFile}`);
      assert.match(st.stderr, `tsrun delete --force ${id}`);
      assert.is(st.stderr.trim().split('\n').length, 1, `one line: ${st.stderr}`);
      for (const args of [['start', id], ['kill', id, 'KILL'], ['delete', id]]) {
        const r = sb.tsrun(args);
        assert.is(r.code, 1, `${args[0]} on a corrupt state: ${r.stderr}`);
        assert.match(r.stderr, /corrupt state file/);
      }
      assert.ok(processStartTime(pid), 'the container survived the refused commands');
      const list = sb.tsrun(['list', '--format', 'json']);
      assert.is(list.code, 0, `list still works: ${list.stderr}`);
      assert.match(list.stderr, `corrupt state file ${stateFile}`, 'list says which container it cannot show');

      const del = sb.tsrun(['delete', '--force', id]);
      assert.is(del.code, 0, del.stderr);
      assert.match(del.stderr, /corrupt state file/, 'delete --force says what it found');
      await assertNothingLeft(`${name}`);
    });
  }
}

corrupt('state.json and its recovery copy both destroyed: the created init is found by its exec fifo', async () => {
  const id = sb.id();
  assert.is(sb.tsrun(['create', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  const pid = JSON.parse(sb.tsrun(['state', id]).stdout).pid as number;
  for (const f of readdirSync(join(sb.root, id))) if (f.endsWith('.json')) writeFileSync(join(sb.root, id, f), '}');
  const del = sb.tsrun(['delete', '--force', id]);
  assert.is(del.code, 0, del.stderr);
  assert.match(del.stderr, /cgroup paths are lost/, 'says that cgroups may need the manual cleanup');
  assert.is(processStartTime(pid), undefined, 'the init was found through its exec fifo and killed');
  assert.not.ok(existsSync(join(sb.root, id)));
  const l = await settledLeftovers(sb);
  assert.equal(l.processes, []);
  // The empty cgroup directories are what is left: the README's manual cleanup removes them.
  for (const dir of l.cgroups) rmdirSync(join('/sys/fs/cgroup', dir));
});

corrupt.run();
