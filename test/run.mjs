#!/usr/bin/env node
// Test runner: every test file runs in its own Node (--single-threaded, TypeScript through tsx), so a
// crash in one file is one failure, not the end of the run. Ends with "N passed, N failed, N skipped".
// Usage: node test/run.mjs [group-or-substring ...]   e.g. `unit`, `integration`, `seccomp`
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
// Compiled seccomp programs the tests' containers make are kept here, not in /var/lib/tsrun.
const seccompCache = mkdtempSync(join(tmpdir(), 'tsrun-test-seccomp-'));
process.env.TSRUN_SECCOMP_CACHE = join(seccompCache, 'cache');
process.on('exit', () => rmSync(seccompCache, { recursive: true, force: true }));
const jobs = Number(process.env.TEST_JOBS || 2);

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = findTests(join(top, 'test')).filter(
  (f) => filters.length === 0 || filters.some((s) => relative(top, f).includes(s)),
);

function runFile(file) {
  return new Promise((resolve) => {
    const env = { ...process.env, FORCE_COLOR: '0' };
    delete env.NODE_EXTRA_CA_CERTS;
    const child = spawn(process.execPath, ['--single-threaded', '--import', 'tsx', file], {
      cwd: top, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      const num = (label) => Number((out.match(new RegExp(`${label}:\\s+(\\d+)`, 'g')) || []).map((l) => l.match(/(\d+)/)[1]).pop() ?? NaN);
      let total = num('Total'), passed = num('Passed'), skipped = num('Skipped') || 0;
      if (Number.isNaN(total)) { total = 1; passed = 0; }
      let failed = total - passed - skipped;
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ file, out, passed, failed, skipped, code, signal });
    });
  });
}

let passed = 0, failed = 0, skipped = 0;
const queue = [...files];
const failures = [];
async function worker() {
  while (queue.length) {
    const file = queue.shift();
    const t0 = Date.now();
    const r = await runFile(file);
    passed += r.passed; failed += r.failed; skipped += r.skipped;
    const name = relative(top, file);
    console.log(`${r.failed ? 'FAIL' : 'ok  '} ${name}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${Date.now() - t0} ms)`);
    if (r.failed) failures.push(name);
    if (r.failed || process.env.TEST_VERBOSE) console.log(r.out.replace(/^/gm, '    | '));
  }
}
await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
if (failures.length) console.log(`\nfailed files:\n  ${failures.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed ? 1 : 0;
