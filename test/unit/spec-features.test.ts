import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { featuresCommand } from '../../spec/cli-features.js';
import { SUPPORT, features } from '../../spec/features.js';
import {
  CAPABILITIES, CAPABILITY_NUMBER, HOOK_NAMES, MOUNT_OPTIONS, NAMESPACE_CLONE_FLAG, NAMESPACE_TYPES,
  OCI_VERSION, RLIMIT_NUMBER, SCHEMA_ENUMS, SECCOMP_ARCHES, SECCOMP_FLAGS,
} from '../../spec/names.js';
import { parseMountOptions } from '../../runtime/rootfs/options.js';
import { CLONE } from '../../runtime/sys/constants.js';
import { top } from './spec-helpers.js';

const schema = JSON.parse(readFileSync(join(top, 'spec/schema/config.schema.json'), 'utf8'));

test('every enum in the schema equals its list in spec/names.ts', () => {
  for (const [name, list] of Object.entries(SCHEMA_ENUMS)) {
    assert.equal(schema.definitions[name]?.enum, [...list], `definitions.${name}`);
  }
  // ...and no enum in the schema escapes the check.
  const enumDefs = Object.entries(schema.definitions).filter(([, d]: [string, any]) => Array.isArray(d.enum)).map(([n]) => n);
  assert.equal(enumDefs.sort(), Object.keys(SCHEMA_ENUMS).sort());
});

test('capabilities: 41 names, numbered as the kernel numbers them', () => {
  assert.is(CAPABILITIES.length, 41);
  assert.is(new Set(CAPABILITIES).size, 41);
  assert.is(CAPABILITY_NUMBER.CAP_CHOWN, 0);
  assert.is(CAPABILITY_NUMBER.CAP_SYS_ADMIN, 21);
  assert.is(CAPABILITY_NUMBER.CAP_AUDIT_READ, 37);
  assert.is(CAPABILITY_NUMBER.CAP_CHECKPOINT_RESTORE, 40);
  const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  assert.ok(lastCap <= CAPABILITIES.length - 1, `kernel knows capability ${lastCap}; add it to spec/names.ts`);
});

test('namespace clone flags agree with runtime/sys constants', () => {
  const sysName: Record<string, string> = { pid: 'NEWPID', network: 'NEWNET', mount: 'NEWNS', ipc: 'NEWIPC', uts: 'NEWUTS', user: 'NEWUSER', cgroup: 'NEWCGROUP', time: 'NEWTIME' };
  for (const t of NAMESPACE_TYPES) {
    const expected = (CLONE as Record<string, number>)[sysName[t]];
    assert.is(NAMESPACE_CLONE_FLAG[t], expected, t);
  }
  assert.is(RLIMIT_NUMBER.RLIMIT_NOFILE, 7);
  assert.is(RLIMIT_NUMBER.RLIMIT_RTTIME, 15);
});

test('every mount option features.json lists is one runtime/rootfs recognizes (not fs data)', () => {
  for (const o of MOUNT_OPTIONS) {
    const parsed = parseMountOptions([o]);
    assert.equal(parsed.data, [], `"${o}" would be passed to mount(2) as filesystem data`);
  }
});

test('features(): the runtime-spec features.json shape, from the shared lists', () => {
  const f = features();
  assert.is(f.ociVersionMin, '1.0.0');
  assert.is(f.ociVersionMax, OCI_VERSION);
  assert.equal(f.hooks, [...HOOK_NAMES]);
  assert.equal(f.linux!.namespaces, [...NAMESPACE_TYPES]);
  assert.equal(f.linux!.capabilities, [...CAPABILITIES]);
  assert.equal(f.linux!.seccomp!.archs, [...SECCOMP_ARCHES]);
  assert.equal(f.linux!.seccomp!.knownFlags, [...SECCOMP_FLAGS]);
  for (const flag of f.linux!.seccomp!.supportedFlags!) assert.ok(f.linux!.seccomp!.knownFlags!.includes(flag), flag);
  assert.equal(f.linux!.cgroup, SUPPORT.cgroup);
  assert.equal(f.linux!.mountExtensions, { idmap: { enabled: SUPPORT.idmapMounts } });
  assert.ok(f.mountOptions!.includes('rro'), 'recursive options are supported');
  for (const o of ['rro', 'idmap', 'ridmap', 'tmpcopyup']) assert.ok(f.mountOptions!.includes(o), `${o} is supported`);
  assert.is(f.linux!.apparmor!.enabled, SUPPORT.apparmor);
  for (const [k, v] of Object.entries(f.annotations!)) assert.type(v, 'string', k);
  // Features are plain data: a JSON round trip loses nothing.
  assert.equal(JSON.parse(JSON.stringify(f)), f);
});

test('featuresCommand prints the JSON with a 4-space indent and a final newline', () => {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((c: string) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
  try {
    featuresCommand();
  } finally {
    process.stdout.write = write;
  }
  const out = chunks.join('');
  assert.is(out, `${JSON.stringify(features(), null, 4)}\n`);
  assert.ok(out.startsWith('{\n    "ociVersionMin": "1.0.0",\n'));
});

test.run();
