// Timing and statistics for the benchmarks: interleaved (paired) runs, medians, ratios, tables.
// Interleaving matters on this noisy machine: every round runs each variant once, in a rotated
// order, so drift in background load hits all variants alike and per-round ratios stay fair.
import { spawnSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Wall time of one command in milliseconds (spawnSync, no shell). Throws if it fails unexpectedly.
 * stderr goes to a file, not a pipe: a container init created by `create` inherits it and keeps
 * it open, so a pipe would never reach EOF.
 */
export function timeCommand(cmd, args, { env, expectCode = 0 } = {}) {
  const errPath = errorFile();
  const fd = openSync(errPath, 'w');
  let r;
  let ms;
  try {
    const t0 = process.hrtime.bigint();
    r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', fd], timeout: 60_000 });
    ms = Number(process.hrtime.bigint() - t0) / 1e6;
  } finally {
    closeSync(fd);
  }
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (expectCode !== null && r.status !== expectCode) {
    const last = readFileSync(errPath, 'utf8').trim().split('\n').pop();
    throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal} (wanted ${expectCode}): ${last}`);
  }
  return ms;
}

let errDir;
function errorFile() {
  if (!errDir) {
    errDir = mkdtempSync(join(tmpdir(), 'tsrun-bench-stderr-'));
    process.on('exit', () => rmSync(errDir, { recursive: true, force: true }));
  }
  return join(errDir, 'stderr');
}

export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summary(values) {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), min: s[0], max: s[s.length - 1] };
}

/**
 * Runs `variants` (each { name, run(round) -> number, setup?(), teardown?() }) for `rounds` paired
 * rounds after `warmup` unrecorded ones. Returns { [name]: number[] } in round order, so index i of
 * every list comes from the same round.
 */
export function interleave(variants, { rounds, warmup = 2, onRound } = {}) {
  const samples = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let r = -warmup; r < rounds; r++) {
    const order = rotate(variants, ((r % variants.length) + variants.length) % variants.length);
    for (const v of order) {
      const value = v.run(r);
      if (r >= 0) samples[v.name].push(value);
    }
    if (onRound && r >= 0) onRound(r);
  }
  return samples;
}

/**
 * Async variant of `interleave` for cases whose `run` may return a promise. It yields to the event
 * loop between rounds, so a SIGINT handler can run; `shouldStop()` ends the loop with an error.
 */
export async function interleaveAsync(variants, { rounds, warmup = 1, shouldStop = () => false } = {}) {
  const samples = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let r = -warmup; r < rounds; r++) {
    const order = rotate(variants, ((r % variants.length) + variants.length) % variants.length);
    for (const v of order) {
      const value = await v.run(r);
      if (r >= 0) samples[v.name].push(value);
    }
    await new Promise((resolve) => setImmediate(resolve));
    if (shouldStop()) throw new Error('interrupted');
  }
  return samples;
}

function rotate(list, k) {
  return [...list.slice(k), ...list.slice(0, k)];
}

/** Median of per-round ratios a[i]/b[i]: robust to slow drift in machine load. */
export function pairedRatio(a, b) {
  const ratios = a.map((x, i) => x / b[i]).filter(Number.isFinite);
  return summary(ratios).median;
}

export function fmt(x, digits = 1) {
  if (x === undefined || x === null || Number.isNaN(x)) return '–';
  return x.toFixed(digits);
}

/** A ratio with two decimals, or two significant digits below 0.1 (a 12 KB init is not "0.00×"). */
export function fmtRatio(x) {
  if (!Number.isFinite(x)) return '–';
  return `${x >= 0.1 || x === 0 ? x.toFixed(2) : x.toPrecision(2)}×`;
}

/** A GitHub-flavoured markdown table. */
export function table(header, rows) {
  const widths = header.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
