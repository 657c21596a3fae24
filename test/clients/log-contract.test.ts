// The log contract the engines rely on: with `--log FILE --log-format json` every error, even one
// in the global flags, is a {"level":"error","msg"} line in FILE (containerd's shim reports the last
// one as "OCI runtime create failed: <msg>", podman as "OCI runtime error: <runtime>: <msg>").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, TSRUN } from '../support/containers.js';

const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-log-'));

function lastError(file: string): { level: string; msg: string } {
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
  for (const l of lines) assert.type(l.time, 'string');
  const errors = lines.filter((l) => l.level === 'error');
  assert.ok(errors.length > 0, `an error line in ${file}`);
  return errors[errors.length - 1];
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a bad global flag (as podman writes them: --flag=value) is logged as JSON', () => {
  const log = join(dir, 'a.json');
  const r = run(TSRUN, [`--root=${join(dir, 'state')}`, '--log-format=json', `--log=${log}`, '--no-such-flag', 'create', 'x']);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'no-such-flag');
  assert.match(lastError(log).msg, 'flag provided but not defined: -no-such-flag');
});

test('a failing create (missing bundle) is logged as JSON, one line on stderr, nothing left', () => {
  const log = join(dir, 'b.json');
  const state = join(dir, 'state');
  const r = run(TSRUN, ['--root', state, '--log', log, '--log-format', 'json', 'create', '--bundle', join(dir, 'no-bundle'), 'tsrun-test-log1']);
  assert.is(r.code, 1);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  const { msg } = lastError(log);
  assert.match(msg, join(dir, 'no-bundle'));
  assert.ok(r.stderr.includes(msg), `stderr says what the log says: ${r.stderr}`);
  assert.is(run(TSRUN, ['--root', state, 'list', '-q']).stdout, '');
});

test.run();
