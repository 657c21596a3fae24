// The kept compiled seccomp programs: a hit is the program the compiler made for exactly that
// profile; anything doubtful (other key, untrusted directory or file) compiles again.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { compileCached, compileSeccomp, SECCOMP_COMPILER_VERSION } from '../../runtime/seccomp/index.js';
import type { LinuxSeccompProfile } from '../../runtime/seccomp/index.js';

const t = suite('seccomp cache');
const docker: LinuxSeccompProfile = JSON.parse(readFileSync(new URL('../fixtures/seccomp/default.json', import.meta.url), 'utf8'));
const small: LinuxSeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] };
let top = '';
let dir = '';
t.before.each(() => {
  top = mkdtempSync(join(tmpdir(), 'tsrun-test-seccomp-cache-'));
  dir = join(top, 'lib', 'cache');
});
t.after.each(() => rmSync(top, { recursive: true, force: true }));

function counting(profile: LinuxSeccompProfile) {
  const c = { calls: 0, compile: () => (c.calls++, compileSeccomp(profile, 'x64')) };
  return c;
}

t('a miss compiles and keeps the program; a hit returns the same bytes without compiling', () => {
  const a = counting(docker);
  const first = compileCached(docker, 'x64', a.compile, dir);
  assert.is(a.calls, 1);
  assert.equal(readdirSync(dir).length, 1);
  assert.is(statSync(dir).mode & 0o777, 0o700, 'the cache itself is root\'s alone');
  const b = counting(docker);
  const second = compileCached(docker, 'x64', b.compile, dir);
  assert.is(b.calls, 0, 'kept');
  assert.ok(second.filter.equals(first.filter));
  assert.equal([second.flags, second.needsListener], [first.flags, first.needsListener]);
});

t('another profile or architecture is another entry, never the kept one', () => {
  compileCached(docker, 'x64', counting(docker).compile, dir);
  const c = counting(small);
  const r = compileCached(small, 'x64', c.compile, dir);
  assert.is(c.calls, 1);
  assert.ok(r.filter.equals(compileSeccomp(small, 'x64').filter));
  const arm = { calls: 0 };
  compileCached(docker, 'arm64', () => (arm.calls++, compileSeccomp(docker, 'arm64')), dir);
  assert.is(arm.calls, 1);
  assert.equal(readdirSync(dir).length, 3);
});

t('a file whose key differs (collision, edit, older compiler) is not used', () => {
  compileCached(docker, 'x64', counting(docker).compile, dir);
  const [name] = readdirSync(dir);
  const kept = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  writeFileSync(join(dir, name), JSON.stringify({ ...kept, key: kept.key.replace(`"compiler":${SECCOMP_COMPILER_VERSION}`, '"compiler":0'), filter: 'AAAA' }), { mode: 0o600 });
  const c = counting(docker);
  const r = compileCached(docker, 'x64', c.compile, dir);
  assert.is(c.calls, 1);
  assert.ok(r.filter.equals(compileSeccomp(docker, 'x64').filter));
});

t('a directory others may write to, or a file root does not own, is ignored', () => {
  compileCached(docker, 'x64', counting(docker).compile, dir);
  chmodSync(dir, 0o777);
  let c = counting(docker);
  compileCached(docker, 'x64', c.compile, dir);
  assert.is(c.calls, 1, 'world-writable directory');
  chmodSync(dir, 0o700);
  const [name] = readdirSync(dir);
  chownSync(join(dir, name), 1000, 1000);
  c = counting(docker);
  compileCached(docker, 'x64', c.compile, dir);
  assert.is(c.calls, 1, 'file owned by another user');
  writeFileSync(join(dir, name), '{"key":', { mode: 0o600 });
  chownSync(join(dir, name), 0, 0);
  c = counting(docker);
  compileCached(docker, 'x64', c.compile, dir);
  assert.is(c.calls, 1, 'truncated file');
});

t('the directories above the cache are made traversable (they are shared), the cache is not', () => {
  compileCached(small, 'x64', counting(small).compile, dir);
  assert.is(statSync(join(top, 'lib')).mode & 0o777, 0o755);
  assert.is(statSync(dir).mode & 0o777, 0o700);
});

t('no cache directory ("", as for non-root): just compile', () => {
  const c = counting(small);
  compileCached(small, 'x64', c.compile, '');
  assert.is(c.calls, 1);
  assert.equal(readdirSync(top), [], 'nothing written anywhere');
});

// The kept programs are named by SECCOMP_COMPILER_VERSION: a change to what the compiler emits must
// bump it, or hosts would go on loading programs the old compiler made. Update both together.
t('the compiler output for Docker\'s profile is pinned to SECCOMP_COMPILER_VERSION', () => {
  const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const pinned: Record<number, Record<string, string>> = { 1: {
    x64: 'cb24ea81b80d9c6651b05766d107512dc8065c8892709e673f32b569954b78e4',
    arm64: 'b02f3a529733efecc4365a27873ad04c28166c9c10074eb460244e2301c7595a',
  } };
  const got = { x64: digest(compileSeccomp(docker, 'x64').filter), arm64: digest(compileSeccomp(docker, 'arm64').filter) };
  assert.equal(got, pinned[SECCOMP_COMPILER_VERSION], 'compiler output changed: bump SECCOMP_COMPILER_VERSION and pin the new digests');
});

t.run();
