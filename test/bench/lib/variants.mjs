// Alternative builds of the CLI bundle, made in a temp dir, for the startup study: minified, and a
// V8 startup snapshot (node --build-snapshot) per Node binary.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { cleanEnv } from './env.mjs';

export async function minifiedBundle(bundlePath, dir) {
  const { transform } = await import('esbuild');
  const out = join(dir, 'tsrun.min.cjs');
  const { code } = await transform(readFileSync(bundlePath, 'utf8'), { minify: true, format: 'cjs', platform: 'node', target: 'node20', loader: 'js' });
  writeFileSync(out, code);
  return out;
}

const CALL = 'main(process.argv.slice(2)).then(';

/**
 * A snapshot entry: the bundle with its top-level `main(...)` call turned into a function that
 * the deserialized snapshot calls. Returns undefined if the bundle's shape is not recognised.
 */
export function snapshotEntry(bundlePath, dir) {
  let s = readFileSync(bundlePath, 'utf8');
  const i = s.lastIndexOf(CALL);
  if (i < 0) return undefined;
  s = `var module = { exports: {} }, exports = module.exports;\n${s.slice(0, i)}globalThis.__tsrunMain = () => ${s.slice(i)}`;
  s = s.replace(/\/\/# sourceMappingURL=.*$/m, '');
  // With a snapshot, argv[1] is the first user argument: put a script name back where main expects it.
  s += '\nrequire("v8").startupSnapshot.setDeserializeMainFunction(() => { process.argv.splice(1, 0, "tsrun"); globalThis.__tsrunMain(); });\n';
  const entry = join(dir, 'snapshot-entry.cjs');
  writeFileSync(entry, s);
  return entry;
}

/** Builds a blob for `node` with the same V8 flags it will run with (V8 refuses a mismatch). */
export function buildSnapshot(node, entry, flags, blob) {
  execFileSync(node, [...flags, '--snapshot-blob', blob, '--build-snapshot', entry], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  return blob;
}
