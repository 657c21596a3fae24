// Build: compile the JSON schemas to standalone ajv validators, then bundle the CLI into one file.
// Runs on `npm install` (prepare) and `npm run build`; takes well under a second.
// runtime/bin/start.cjs keeps V8 code caches of the bundle in dist/code-cache; a build drops them.
import { build } from 'esbuild';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const top = dirname(dirname(fileURLToPath(import.meta.url)));

const compileSchemas = join(top, 'spec/compile-schemas.mjs');
if (existsSync(compileSchemas)) await import(compileSchemas);

// runtime/node-require.ts makes a `require` for ESM (tsx); the CJS bundle has one already.
const bundleRequire = {
  name: 'bundle-require',
  setup(b) {
    b.onLoad({ filter: /runtime[\\/]node-require\.ts$/ }, () => ({ contents: 'export const nodeRequire = require;', loader: 'js' }));
  },
};

// Written to temp files and renamed into place, so a tsrun running during a rebuild never reads
// half a bundle.
const result = await build({
  entryPoints: [join(top, 'runtime/cli/main.ts')],
  outfile: join(top, 'dist/tsrun.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  // Whitespace and syntax only: every command reads and decodes the whole file (~4 µs per KB here),
  // and 30 % less of it saves ~2 ms. Names stay, for stack traces (TSRUN_DEBUG_STACK=1); positions map
  // back to the TypeScript through the source map (node --enable-source-maps).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logOverride: { 'empty-import-meta': 'silent' },
  logLevel: 'warning',
  plugins: [bundleRequire],
  write: false,
});
mkdirSync(join(top, 'dist'), { recursive: true });
for (const file of result.outputFiles) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
}

rmSync(join(top, 'dist/code-cache'), { recursive: true, force: true });
