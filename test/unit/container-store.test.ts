import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore, validateId, type ContainerRecord } from '../../runtime/container/store.js';
import { deriveStatus, ociState } from '../../runtime/container/status.js';
import { ExistsError, NotFoundError } from '../../runtime/container/errors.js';

const dirs: string[] = [];
function store(): StateStore {
  const d = mkdtempSync(join(tmpdir(), 'tsrun-test-store-'));
  dirs.push(d);
  return new StateStore(join(d, 'root'));
}
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function record(id: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    ociVersion: '1.3.0', id, pid: 0, pidStartTime: '', bundle: '/b', rootfs: '/b/rootfs', created: '2026-01-01T00:00:00Z',
    owner: 'root', createdDone: true, started: false, cgroupPaths: {}, namespaces: {}, rootless: false, overlay: false,
    config: { ociVersion: '1.3.0' } as never, ...over,
  };
}

test('claim is exclusive; ids are validated', () => {
  const s = store();
  s.claim('a');
  assert.throws(() => s.claim('a'), (e: unknown) => e instanceof ExistsError);
  assert.throws(() => validateId('../x'), /invalid container id/);
  assert.throws(() => validateId(''), /invalid container id/);
  validateId('abc_1.2-3+4');
});

test('remove takes the state dir away: files, a directory inside, or nothing there at all', () => {
  const s = store();
  s.claim('a');
  s.write(record('a'));
  writeFileSync(join(s.dir('a'), 'lock'), '');
  s.remove('a');
  assert.not.ok(existsSync(s.dir('a')));
  s.remove('a'); // already gone: fine
  s.claim('b');
  mkdirSync(join(s.dir('b'), 'upper', 'deep'), { recursive: true });
  writeFileSync(join(s.dir('b'), 'upper', 'deep', 'f'), 'x');
  s.remove('b');
  assert.not.ok(existsSync(s.dir('b')));
});

test('state round trip; unknown ids; a corrupt state file names the file and the way out', () => {
  const s = store();
  assert.throws(() => s.read('nope'), (e: unknown) => e instanceof NotFoundError);
  s.claim('a');
  assert.is(s.read('a'), undefined, 'claimed but not written: still being created');
  s.write(record('a'));
  assert.is(s.read('a')!.id, 'a');
  writeFileSync(s.statePath('a'), '{"id": "a", ');
  assert.throws(() => s.read('a'), (e: Error) => /corrupt state file .*state.json/.test(e.message) && /delete --force a/.test(e.message));
  assert.equal(s.ids(), ['a']);
});

test('status is derived: a dead or reused pid is stopped; pid 0 once stopped', () => {
  const s = store();
  s.claim('a');
  const dead = record('a', { pid: 999999999, pidStartTime: '1' });
  assert.is(deriveStatus(s, dead), 'stopped');
  assert.is(ociState(dead, 'stopped').pid, 0);
  const reused = record('a', { pid: process.pid, pidStartTime: 'not-the-start-time' });
  assert.is(deriveStatus(s, reused), 'stopped', 'same pid, other start time: not our init');
  assert.is(deriveStatus(s, undefined), 'creating');
});

test.run();
