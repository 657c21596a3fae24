// Every file in test/fixtures/bad-configs must be rejected, and the error must name the JSON path
// (or, for files that are not JSON, the line and column) recorded in expected.json.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfigFile } from '../../spec/validate.js';
import { ensureGeneratedValidator, top } from './spec-helpers.js';

ensureGeneratedValidator();
const dir = join(top, 'test/fixtures/bad-configs');
const expected: Record<string, { path?: string; message?: string }> = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
const files = readdirSync(dir).filter((f) => f !== 'expected.json').sort();

test('the corpus has at least 60 files, each with an expectation', () => {
  assert.ok(files.length >= 60, `only ${files.length} files`);
  for (const f of files) {
    assert.match(f, /^\d{3}-[a-z0-9-]+\.json$/, f);
    assert.ok(expected[f], `${f} has no entry in expected.json`);
  }
  assert.equal(Object.keys(expected).sort(), files);
});

for (const file of files) {
  test(`rejects ${file}`, () => {
    const want = expected[file];
    let err: unknown;
    try {
      loadConfigFile(join(dir, file));
    } catch (e) {
      err = e;
    }
    assert.instance(err, ConfigError, `${file} was accepted`);
    const ce = err as ConfigError;
    const firstLine = ce.message.split('\n')[0];
    assert.ok(firstLine.startsWith(join(dir, file) + ': '), `first line must name the file: ${firstLine}`);
    if (want.path !== undefined) {
      const paths = ce.issues.map((i) => i.path);
      assert.ok(paths.includes(want.path), `${file}: no error at "${want.path}"; got:\n${ce.message}`);
      const shown = want.path === '' ? '/' : want.path;
      assert.ok(ce.message.includes(`${shown}: `), `${file}: message does not name ${shown}:\n${ce.message}`);
      for (const issue of ce.issues) {
        assert.is(issue.severity, 'error');
        assert.ok(issue.message.length > 0 && !issue.message.includes('\n'), `one line per problem: ${issue.message}`);
      }
    } else {
      assert.is(ce.issues.length, 0);
      assert.ok(firstLine.includes(want.message!), `${file}: "${want.message}" not in: ${firstLine}`);
    }
  });
}

test.run();
