// A process that allocates past an 8 MiB memory limit is OOM-killed (SIGKILL), and the manager
// sees the kill. Also prints how much a tiny process charges to its cgroup once it runs there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createCgroupManager } from '../../runtime/cgroups/index.js';

const isV1Memory = existsSync('/sys/fs/cgroup/memory/cgroup.procs');
const MiB = 1024 * 1024;

function run(m: ReturnType<typeof createCgroupManager>, script: string): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    // The shell waits until it is in the cgroup: only pages touched after that are charged there.
    const c = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code, signal) => resolve({ code, signal, out }));
    c.on('error', reject);
    try {
      m.apply(c.pid!);
    } catch (e) {
      c.kill('SIGKILL');
      reject(e);
      return;
    }
    c.stdin.end('go\n');
  });
}

test('allocating 20 MB under an 8 MiB limit (no swap) ends in SIGKILL from the OOM killer', async () => {
  if (!isV1Memory) return console.log('skipped: no v1 memory controller');
  const m = createCgroupManager({ id: `tsrun-test-oom-${process.pid}-${Math.random().toString(36).slice(2, 6)}` });
  try {
    m.create();
    m.set({ memory: { limit: 8 * MiB, swap: 8 * MiB } });
    const before = m.oomKillCount();
    const r = await run(m, `x=$(head -c 20000000 /dev/zero | tr "\\0" a); echo \${#x}`);
    assert.is(r.signal, 'SIGKILL', JSON.stringify(r));
    assert.is(r.out, '', 'never got to print the length');
    assert.ok(m.oomKillCount() > before, 'memory.oom_control counts the kill');
    const peak = Number(readFileSync(`${m.paths().memory}/memory.max_usage_in_bytes`, 'utf8'));
    assert.ok(peak <= 8 * MiB && peak > 4 * MiB, `peak ${peak}`);
  } finally {
    m.destroy();
  }
});

test('the same allocation under a 64 MiB limit completes (the limit is what killed it)', async () => {
  if (!isV1Memory) return;
  const m = createCgroupManager({ id: `tsrun-test-oom-${process.pid}-${Math.random().toString(36).slice(2, 6)}` });
  try {
    m.create();
    m.set({ memory: { limit: 64 * MiB, swap: 64 * MiB } });
    const r = await run(m, `x=$(head -c 20000000 /dev/zero | tr "\\0" a); echo \${#x}`);
    assert.equal({ code: r.code, out: r.out.trim() }, { code: 0, out: '20000000' });
    assert.is(m.oomKillCount(), 0);
  } finally {
    m.destroy();
  }
});

test('measure: memory charged by a tiny process started in the cgroup (max_usage_in_bytes)', async () => {
  if (!isV1Memory) return;
  const m = createCgroupManager({ id: `tsrun-test-oom-${process.pid}-${Math.random().toString(36).slice(2, 6)}` });
  try {
    m.create();
    m.set({ memory: { limit: 8 * MiB } });
    const r = await run(m, 'exec /bin/busybox true');
    assert.is(r.code, 0);
    const peak = Number(readFileSync(`${m.paths().memory}/memory.max_usage_in_bytes`, 'utf8'));
    console.log(`  sh moved in, then exec busybox true: memory.max_usage_in_bytes = ${peak} bytes (${(peak / 1024).toFixed(0)} KiB)`);
    assert.ok(peak > 0 && peak < 8 * MiB);
  } finally {
    m.destroy();
  }
});

test.run();
