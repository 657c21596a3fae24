import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpecExistsError, specCommand } from '../../spec/cli-spec.js';
import { defaultSpec, isCgroup2Unified, rootlessSpec } from '../../spec/defaults.js';
import { OCI_VERSION } from '../../spec/names.js';
import { ensureGeneratedValidator, hasCommand, inTempDir } from './spec-helpers.js';

ensureGeneratedValidator();

/** runc's output with the differences tsrun makes on purpose: version, hostname, no ambient set. */
function fromRunc(args: string[], dir: string): any {
  execFileSync('runc', [...args, '--bundle', dir]);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.ociVersion = OCI_VERSION;
  spec.hostname = 'tsrun';
  delete spec.process.capabilities.ambient; // runc >= 1.2 no longer sets it
  return spec;
}

test('defaultSpec equals `runc spec` apart from version, hostname and ambient caps', async () => {
  if (!hasCommand('runc')) return console.log('  (runc not installed: skipped)');
  await inTempDir((dir) => {
    const expected = fromRunc(['spec'], dir);
    // runc adds a cgroup namespace only on a cgroup v2 unified host; so must we.
    assert.equal(defaultSpec(), expected);
  });
});

test('rootlessSpec equals `runc spec --rootless` the same way', async () => {
  if (!hasCommand('runc')) return console.log('  (runc not installed: skipped)');
  await inTempDir((dir) => {
    assert.equal(rootlessSpec(), fromRunc(['spec', '--rootless'], dir));
  });
});

test('rootlessSpec: user namespace and mappings for the given ids, no network, no resources', () => {
  const spec = rootlessSpec({ uid: 1234, gid: 99, cgroupNamespace: true });
  const types = spec.linux!.namespaces!.map((n) => n.type);
  assert.equal(types, ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user']);
  assert.equal(spec.linux!.uidMappings, [{ containerID: 0, hostID: 1234, size: 1 }]);
  assert.equal(spec.linux!.gidMappings, [{ containerID: 0, hostID: 99, size: 1 }]);
  assert.is(spec.linux!.resources, undefined);
  const sys = spec.mounts!.find((m) => m.destination === '/sys')!;
  assert.equal(sys, { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  assert.not.ok(spec.mounts!.some((m) => m.options?.some((o) => /^(uid|gid)=/.test(o))));
  // The default is untouched by the rootless variant (fresh objects each call).
  assert.ok(defaultSpec().mounts!.find((m) => m.destination === '/dev/pts')!.options!.includes('gid=5'));
});

test('cgroup namespace follows the host unless asked', () => {
  const has = (s: ReturnType<typeof defaultSpec>) => s.linux!.namespaces!.some((n) => n.type === 'cgroup');
  assert.is(has(defaultSpec()), isCgroup2Unified());
  assert.is(has(defaultSpec({ cgroupNamespace: true })), true);
  assert.is(has(defaultSpec({ cgroupNamespace: false })), false);
});

test('specCommand writes config.json like runc (tabs) and refuses to overwrite', async () => {
  await inTempDir(async (dir) => {
    await specCommand({ bundle: dir });
    const text = readFileSync(join(dir, 'config.json'), 'utf8');
    assert.equal(JSON.parse(text), defaultSpec());
    assert.ok(text.startsWith('{\n\t"ociVersion": '), text.slice(0, 30));
    assert.is(statSync(join(dir, 'config.json')).mode & 0o777, 0o666 & ~process.umask());

    writeFileSync(join(dir, 'config.json'), 'mine');
    try {
      await specCommand({ bundle: dir, rootless: true });
      assert.unreachable('overwrote config.json');
    } catch (e) {
      assert.instance(e, SpecExistsError);
      assert.is((e as Error).message, `File ${join(dir, 'config.json')} exists. Remove it first`);
    }
    assert.is(readFileSync(join(dir, 'config.json'), 'utf8'), 'mine');

    // A dangling symlink named config.json is not followed.
    const other = join(dir, 'b');
    mkdirSync(other);
    symlinkSync(join(dir, 'elsewhere.json'), join(other, 'config.json'));
    await specCommand({ bundle: other }).then(() => assert.unreachable('followed a symlink'), (e) => assert.instance(e, SpecExistsError));

    const rootless = join(dir, 'r');
    mkdirSync(rootless);
    await specCommand({ bundle: rootless, rootless: true });
    assert.equal(JSON.parse(readFileSync(join(rootless, 'config.json'), 'utf8')), rootlessSpec());

    await specCommand({ bundle: join(dir, 'missing') }).then(
      () => assert.unreachable('wrote into a missing dir'),
      (e) => assert.match((e as Error).message, /bundle directory .*missing does not exist/),
    );
  });
});

test('specCommand without --bundle writes into the working directory', async () => {
  await inTempDir(async (dir) => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await specCommand({});
      assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), defaultSpec());
      await specCommand({}).then(() => assert.unreachable(), (e) => assert.is((e as Error).message, 'File config.json exists. Remove it first'));
    } finally {
      process.chdir(cwd);
    }
  });
});

test.run();
