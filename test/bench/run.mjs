#!/usr/bin/env node
// `npm run bench`: tsrun against runc and `crun --cgroup-manager=disabled`, same bundle, paired
// rounds (every round runs each runtime once, in rotated order), medians and per-round ratios.
// Writes the tables to test/bench/results.md. Needs root (it creates containers and cgroups).
//
// Usage: node test/bench/run.mjs [--rounds N] [--cases cli,run,csd,query,memory,limit,concurrent]
//          [--concurrency 100] [--concurrent-rounds 5] [--memory-rounds 5]
//          [--tsrun-node PATH ...] [--tsrun-also LAUNCHER ...] [--out FILE]
// --tsrun-node adds "tsrun@nodeXX" runtimes that run the launcher with TSRUN_NODE=PATH.
// --tsrun-also adds another tsrun build ("tsrun@2", ...: e.g. runtime/bin/tsrun of an older
// checkout), so two builds are compared in the same paired rounds.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { timeCommand, interleaveAsync, summary, pairedRatio, fmt, fmtRatio, table } from './lib/measure.mjs';
import { TOP, TSRUN, cleanEnv, version, runtimeVersion } from './lib/env.mjs';
import { BenchSandbox, removeCgroups, memoryCgroupValue, makeMemoryCgroup } from './lib/sandbox.mjs';
import { processMemory, waitGone } from './lib/procmem.mjs';

const ALL_CASES = ['cli', 'run', 'csd', 'query', 'memory', 'limit', 'concurrent'];
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    cases: { type: 'string', default: ALL_CASES.join(',') },
    concurrency: { type: 'string', default: '100' },
    'concurrent-rounds': { type: 'string', default: '5' },
    'memory-rounds': { type: 'string', default: '5' },
    'tsrun-node': { type: 'string', multiple: true, default: [] },
    'tsrun-also': { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: join(TOP, 'test/bench/results.md') },
    'no-mount-ns': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(opts.rounds);
const CASES = opts.cases.split(',');
for (const c of CASES) if (!ALL_CASES.includes(c)) throw new Error(`unknown case "${c}" (cases: ${ALL_CASES.join(', ')})`);
const MiB = 1024 * 1024;
const UNIFIED_CONTROLLERS = '/sys/fs/cgroup/unified/cgroup.controllers';

function unifiedHasControllers() {
  try {
    return readFileSync(UNIFIED_CONTROLLERS, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

// crun 1.8 refuses to run in hybrid mode while cgroup2 has any controller (here: hugetlb), even
// with --cgroup-manager=disabled. So the whole benchmark re-runs itself in a private mount
// namespace where /sys/fs/cgroup/unified/cgroup.controllers reads empty. All runtimes see the same
// view; the host's cgroups are untouched. --no-mount-ns skips this (crun then fails).
if (!opts['no-mount-ns'] && !process.env.TSRUN_BENCH_IN_MOUNT_NS && unifiedHasControllers()) {
  const empty = join(mkdtempSync(join(tmpdir(), 'tsrun-bench-ns-')), 'empty');
  writeFileSync(empty, '');
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', `mount --bind "$0" ${UNIFIED_CONTROLLERS} && exec "$@"`,
      empty, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, TSRUN_BENCH_IN_MOUNT_NS: '1' } },
  );
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
  rmSync(dirname(empty), { recursive: true, force: true });
  process.exit(code);
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // First signal: stop after the current round and clean up. Second: clean up now and leave.
  process.on(sig, () => {
    if (!interrupted) {
      interrupted = true;
      return;
    }
    for (const p of sb.cleanup(runtimes)) process.stderr.write(`bench cleanup: ${p}\n`);
    process.exit(130);
  });
}
const shouldStop = () => interrupted;

const sb = new BenchSandbox();
const runtimes = makeRuntimes();
const report = { rows: [], memory: [], notes: [] };

// ---------------------------------------------------------------------------------------------

function makeRuntimes() {
  const list = [];
  const tsrun = (name, env, cmd = TSRUN) => ({ name, cmd, root: sb.stateRoot(name), env, global: [] });
  list.push(tsrun('tsrun', cleanEnv()));
  for (const node of opts['tsrun-node']) {
    const label = `tsrun@node${version(node).slice(1).split('.')[0]}`;
    list.push(tsrun(label, cleanEnv({ TSRUN_NODE: node })));
  }
  opts['tsrun-also'].forEach((launcher, i) => list.push(tsrun(`tsrun@${i + 2}`, cleanEnv(), launcher)));
  list.push({ name: 'runc', cmd: 'runc', root: sb.stateRoot('runc'), env: cleanEnv(), global: [] });
  list.push({ name: 'crun', cmd: 'crun', root: sb.stateRoot('crun'), env: cleanEnv(), global: ['--cgroup-manager=disabled'] });
  for (const rt of list) rt.global = [...rt.global, '--root', rt.root];
  return list;
}

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** One runtime command, timed; throws with the runtime's last stderr line if it fails. */
function t(rt, args, expectCode = 0) {
  return timeCommand(rt.cmd, [...rt.global, ...args], { env: rt.env, expectCode });
}

/** Variants for one case: a runtime that fails once is recorded and skipped for the rest of it. */
function variantsFor(caseName, fn) {
  return runtimes.map((rt) => {
    const errors = (report.errors ??= {});
    return {
      name: rt.name,
      async run(round) {
        const key = `${caseName}/${rt.name}`;
        if (errors[key]) return NaN;
        try {
          return await fn(rt, round);
        } catch (e) {
          errors[key] = e.message;
          log(`${key}: ${e.message}`);
          return NaN;
        }
      },
    };
  });
}

function addRow(label, samples, target) {
  const medians = Object.fromEntries(runtimes.map((rt) => [rt.name, summary(samples[rt.name] ?? []).median]));
  const ratios = Object.fromEntries(runtimes.map((rt) => [rt.name, pairedRatio(samples[rt.name] ?? [], samples.runc ?? [])]));
  report.rows.push({ label, medians, ratios, target });
}

function addErrors(caseName) {
  for (const [key, msg] of Object.entries(report.errors ?? {})) {
    if (key.startsWith(`${caseName}/`)) report.notes.push(`${key} failed: ${msg}`);
  }
}

function readPid(file) {
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad pid file ${file}`);
  return pid;
}

const CASE_IMPL = {
  async cli() {
    const v = await interleaveAsync(variantsFor('cli', (rt) => t(rt, ['--version'])), { rounds: ROUNDS, warmup: 2, shouldStop });
    addRow('`--version`', v);
    const s = await interleaveAsync(variantsFor('cli', (rt) => t(rt, ['state', 'nonexistent'], 1)), { rounds: ROUNDS, warmup: 2, shouldStop });
    addRow('`state` of a missing id (error path)', s);
    addErrors('cli');
  },

  async run() {
    const bundle = sb.bundle('true', ['/bin/true']);
    const samples = await interleaveAsync(
      variantsFor('run', (rt) => t(rt, ['run', '--bundle', bundle, sb.id(`${rt.name}-run`)])),
      { rounds: ROUNDS, warmup: 2, shouldStop },
    );
    addRow('`run` /bin/true, end to end', samples, '≤ 1.0×');
    // What containerd and podman pass: Docker's default seccomp profile (compiled by each runtime).
    const profile = JSON.parse(readFileSync(join(TOP, 'test/fixtures/seccomp/default.json'), 'utf8'));
    const withSeccomp = sb.bundle('true-seccomp', ['/bin/true'], (s) => (s.linux.seccomp = profile));
    const seccompSamples = await interleaveAsync(
      variantsFor('run', (rt) => t(rt, ['run', '--bundle', withSeccomp, sb.id(`${rt.name}-run`)])),
      { rounds: ROUNDS, warmup: 2, shouldStop },
    );
    addRow('`run` /bin/true with Docker\'s default seccomp profile', seccompSamples);
    addErrors('run');
  },

  async csd() {
    const bundle = sb.bundle('true', ['/bin/true']);
    const parts = { create: {}, start: {}, delete: {} };
    const samples = await interleaveAsync(
      variantsFor('csd', async (rt, round) => {
        const id = sb.id(`${rt.name}-csd`);
        const pidFile = join(sb.dir, `${id}.pid`);
        const c = t(rt, ['create', '--bundle', bundle, '--pid-file', pidFile, id]);
        const pid = readPid(pidFile);
        const s = t(rt, ['start', id]);
        await waitGone(pid); // containerd waits for the exit too; not timed
        const d = t(rt, ['delete', id]);
        if (round >= 0) {
          for (const [k, v] of [['create', c], ['start', s], ['delete', d]]) (parts[k][rt.name] ??= []).push(v);
        }
        return c + s + d;
      }),
      { rounds: ROUNDS, warmup: 2, shouldStop },
    );
    addRow('`create` + `start` + `delete` (sum of 3 commands)', samples, '≤ 1.0×');
    for (const k of ['create', 'start', 'delete']) addRow(`  of which \`${k}\``, parts[k]);
    addErrors('csd');
  },

  async query() {
    const bundle = sb.bundle('sleep', ['/bin/sleep', '3600']);
    const ids = {};
    try {
      for (const rt of runtimes) {
        const id = sb.id(`${rt.name}-query`);
        try {
          t(rt, ['create', '--bundle', bundle, id]);
          t(rt, ['start', id]);
          ids[rt.name] = id;
        } catch (e) {
          (report.errors ??= {})[`query/${rt.name}`] = `setup: ${e.message}`;
        }
      }
      const one = (label, args, target = '≤ 1.0×') =>
        interleaveAsync(
          variantsFor('query', (rt) => {
            if (!ids[rt.name]) throw new Error('no running container');
            return t(rt, args(ids[rt.name]));
          }),
          { rounds: ROUNDS, warmup: 2, shouldStop },
        ).then((s) => addRow(label, s, target));
      await one('`state` of a running container', (id) => ['state', id]);
      await one('`list` (one running container)', () => ['list']);
      await one('`kill` (SIGCONT) a running container', (id) => ['kill', id, 'CONT']);
      // What health checks do: a short process in a running container.
      await one('`exec` /bin/true in a running container', (id) => ['exec', id, '/bin/true'], '');
    } finally {
      for (const rt of runtimes) {
        if (!ids[rt.name]) continue;
        try {
          t(rt, ['delete', '--force', ids[rt.name]]);
        } catch (e) {
          log(`query cleanup ${rt.name}: ${e.message}`);
        }
      }
    }
    addErrors('query');
  },

  async memory() {
    const metrics = {};
    const put = (rt, k, v) => ((metrics[k] ??= {})[rt.name] ??= []).push(v);
    await interleaveAsync(
      variantsFor('memory', async (rt, round) => {
        const cg = sb.cgroupPath(`${rt.name}-init${round + 1000}`);
        const bundle = sb.bundle(`mem-${rt.name}-${round + 1000}`, ['/bin/true'], (s) => (s.linux.cgroupsPath = cg));
        const id = sb.id(`${rt.name}-mem`);
        const pidFile = join(sb.dir, `${id}.pid`);
        t(rt, ['create', '--bundle', bundle, '--pid-file', pidFile, id]);
        const pid = readPid(pidFile);
        const m = processMemory(pid);
        const charged = memoryCgroupValue(cg, 'memory.max_usage_in_bytes');
        t(rt, ['start', id]);
        await waitGone(pid);
        t(rt, ['delete', id]);
        removeCgroups(cg.slice(1));
        if (round >= 0) {
          put(rt, 'init VmHWM (peak RSS), KiB', m.hwm);
          put(rt, 'init Rss, KiB', m.rss);
          put(rt, 'init Pss, KiB', m.pss);
          put(rt, 'init private (clean+dirty), KiB', m.private);
          put(rt, 'container cgroup memory.max_usage_in_bytes, KiB', charged === undefined ? NaN : charged / 1024);
        }
        return 0;
      }),
      { rounds: Number(opts['memory-rounds']), warmup: 1, shouldStop },
    );
    for (const [label, byRt] of Object.entries(metrics)) addMemoryRow(label, byRt);
    addErrors('memory');
  },

  async limit() {
    for (const mib of [8, 4]) {
      const results = {};
      for (const rt of runtimes) {
        const cg = sb.cgroupPath(`${rt.name}-limit${mib}`);
        const bundle = sb.bundle(`limit-${rt.name}-${mib}`, ['/bin/true'], (s) => {
          s.linux.cgroupsPath = cg;
          s.linux.resources = { ...(s.linux.resources ?? {}), memory: { limit: mib * MiB } };
        });
        try {
          t(rt, ['run', '--bundle', bundle, sb.id(`${rt.name}-limit`)]);
          results[rt.name] = rt.name === 'crun' ? 'ok (no cgroups: limit not applied)' : 'ok';
        } catch (e) {
          results[rt.name] = `FAILS: ${e.message.split(': ').slice(-1)[0].slice(0, 80)}`;
        } finally {
          removeCgroups(cg.slice(1));
        }
      }
      report.memory.push({ label: `\`run\` with memory.limit ${mib} MiB`, values: results, text: true });
    }
  },

  async concurrent() {
    const n = Number(opts.concurrency);
    const wall = {};
    const peak = {};
    await interleaveAsync(
      variantsFor('concurrent', async (rt, round) => {
        const name = `${rt.name}-conc${round + 1000}`;
        const parent = sb.cgroupPath(name);
        const procs = join(makeMemoryCgroup(parent), 'cgroup.procs');
        const ids = [];
        const bundles = [];
        for (let i = 0; i < n; i++) {
          ids.push(sb.id(`${rt.name}-conc`));
          bundles.push(sb.bundle(`conc-${rt.name}-${i}`, ['/bin/true'], (s) => (s.linux.cgroupsPath = `${parent}/c${i}`)));
        }
        try {
          const t0 = process.hrtime.bigint();
          await Promise.all(ids.map(async (id, i) => {
            await inCgroup(procs, rt, ['create', '--bundle', bundles[i], id]);
            await inCgroup(procs, rt, ['start', id]);
          }));
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const bytes = memoryCgroupValue(parent, 'memory.max_usage_in_bytes');
          if (round >= 0) {
            (wall[rt.name] ??= []).push(ms);
            (peak[rt.name] ??= []).push(bytes / MiB);
          }
          return ms;
        } finally {
          await Promise.all(ids.map((id) => inCgroup(null, rt, ['delete', '--force', id]).catch(() => {})));
          removeCgroups(parent.slice(1));
        }
      }),
      { rounds: Number(opts['concurrent-rounds']), warmup: 0, shouldStop },
    );
    addRow(`${n} × (\`create\` + \`start\`) concurrently: wall time`, wall, '≤ 1.0×');
    addMemoryRow(`${n} concurrent: peak memory of CLIs + containers (memory.max_usage_in_bytes), MiB`, peak, '≤ 1.0×');
    addErrors('concurrent');
  },
};

/**
 * Runs a runtime command asynchronously, first moving it into the memory cgroup `procs` (if any).
 * Resolves on the command's exit, not on its pipes closing: a created init keeps stderr open, so
 * stderr goes to a file.
 */
function inCgroup(procs, rt, args) {
  const [cmd, argv] = procs
    ? ['sh', ['-c', 'echo $$ > "$0" && shift && exec "$@"', procs, 'x', rt.cmd, ...rt.global, ...args]]
    : [rt.cmd, [...rt.global, ...args]];
  const errPath = join(sb.dir, `stderr-${++errCount}`);
  const fd = openSync(errPath, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: rt.env, stdio: ['ignore', 'ignore', fd], timeout: 120_000 });
    closeSync(fd);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const err = readFileSync(errPath, 'utf8').trim().split('\n').pop();
      rmSync(errPath, { force: true });
      if (code === 0) resolve();
      else reject(new Error(`${rt.name} ${args[0]}: exit ${code ?? signal}: ${err}`));
    });
  });
}
let errCount = 0;

function addMemoryRow(label, byRt, target) {
  const values = Object.fromEntries(runtimes.map((rt) => [rt.name, summary(byRt[rt.name] ?? []).median]));
  report.memory.push({ label, values, target });
}

function writeReport() {
  const names = runtimes.map((rt) => rt.name);
  const others = names.filter((n) => n !== 'runc');
  const timeRows = report.rows.map((r) => [
    r.label,
    ...names.map((n) => fmt(r.medians[n])),
    ...others.map((n) => fmtRatio(r.ratios[n])),
    r.target ?? '',
  ]);
  const memRows = report.memory.map((r) => [
    r.label,
    ...names.map((n) => (r.text ? r.values[n] ?? '–' : fmt(r.values[n], 0))),
    ...(r.text ? others.map(() => '') : others.map((n) => (r.values.runc > 0 ? fmtRatio(r.values[n] / r.values.runc) : '–'))),
    r.target ?? '',
  ]);
  const versions = [
    `tsrun: ${TSRUN} (${runtimes.filter((r) => r.name.startsWith('tsrun')).map((r) => `${r.name}${r.cmd === TSRUN ? '' : ` = ${r.cmd}`} on ${r.env.TSRUN_NODE ?? 'its default Node'}`).join(', ')}; ${tsrunNode()})`,
    runtimeVersion('runc'),
    `${runtimeVersion('crun')} with --cgroup-manager=disabled`,
  ];
  const text = [
    '# Benchmark results',
    '',
    `\`npm run bench\` (test/bench/run.mjs) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${ROUNDS} paired rounds per timing case (each round runs every runtime once, rotated order).`,
    `Same bundle for all (busybox rootfs, \`runc spec\` config, terminal off). Times are medians in ms;`,
    `ratios are the median of per-round ratios against runc (lower is better).`,
    '',
    ...versions.map((v) => `- ${v}`),
    '',
    '## Time',
    '',
    table(['case', ...names.map((n) => `${n} ms`), ...others.map((n) => `${n}/runc`), 'target'], timeRows),
    '',
    '## Memory',
    '',
    'Init = the process waiting on the exec fifo after `create` (`runc init` for runc). The container',
    'cgroup is a v1 memory cgroup given through linux.cgroupsPath (crun runs without cgroups here).',
    '',
    table(['metric', ...names, ...others.map((n) => `${n}/runc`), 'target'], memRows),
    '',
    ...(report.notes.length ? ['## Notes', '', ...report.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
  mkdirSync(join(opts.out, '..'), { recursive: true });
  writeFileSync(opts.out, text);
  process.stdout.write(text);
}

function tsrunNode() {
  try {
    const r = runtimes[0];
    const text = execFileSync(r.cmd, ['--version'], { env: r.env, encoding: 'utf8' });
    return text.trim().split('\n').find((l) => l.startsWith('node:')) ?? 'node: unknown';
  } catch {
    return 'tsrun --version failed';
  }
}

async function main() {
  let failed = false;
  try {
    await sb.init();
    for (const c of CASES) {
      log(`case ${c}`);
      await CASE_IMPL[c]();
      if (interrupted) throw new Error('interrupted');
    }
  } catch (e) {
    failed = true;
    report.notes.push(`run stopped: ${e.message}`);
    process.stderr.write(`bench: ${e.stack}\n`);
  } finally {
    const problems = sb.cleanup(runtimes);
    for (const p of problems) process.stderr.write(`bench cleanup: ${p}\n`);
    if (problems.length) report.notes.push(`cleanup problems: ${problems.join('; ')}`);
  }
  writeReport();
  process.exitCode = failed ? 1 : 0;
}

await main();
