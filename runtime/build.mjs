// Build: compile the JSON schemas to standalone ajv validators, then bundle the CLI into one file,
// dist/tsrun.cjs, and once more without what only the container-making commands need (config
// validator, rootfs and process setup, seccomp, images): dist/tsrun-core.cjs, a quarter of the size,
// which runtime/bin/start.cjs runs for state, list, kill, start, delete, pause and resume.
// Runs on `npm install` (prepare) and `npm run build`; takes well under a second.
// runtime/bin/start.cjs keeps V8 code caches of the bundles in dist/code-cache; a build drops them.
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

// The command modules left out of the core bundle (the commands that import them are not in
// CORE_COMMANDS of runtime/bin/start.cjs). Should one be imported there anyway, it says so.
const NOT_IN_CORE = /^\.\.\/(container\/(create|run|exec|resources)|cgroups\/index|\.\.\/spec\/cli-(spec|features)|\.\.\/bundles\/cli)\.js$/;
const coreOnly = {
  name: 'core-only',
  setup(b) {
    b.onResolve({ filter: NOT_IN_CORE }, (args) => (args.importer.endsWith('commands.ts') ? { path: args.path, namespace: 'not-in-core' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'not-in-core' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`internal error: ${args.path} is not in dist/tsrun-core.cjs`)});`,
      loader: 'js',
    }));
  },
};

const bundles = [
  { outfile: 'dist/tsrun.cjs', plugins: [bundleRequire] },
  { outfile: 'dist/tsrun-core.cjs', plugins: [bundleRequire, coreOnly] },
];
const results = await Promise.all(bundles.map(({ outfile, plugins }) => build({
  entryPoints: [join(top, 'runtime/cli/main.ts')],
  outfile: join(top, outfile),
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
  // The bundle wraps itself as Node's module loader would, so runtime/bin/start.cjs compiles the
  // file's text as it is: wrapping it there (Module.wrap) made V8 flatten a second 516 KB copy of
  // the source, left as garbage in every create/run/exec (measured: +0.5 MB at the peak). Run
  // directly (node dist/tsrun.cjs), it calls itself with the module's own arguments.
  banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
  footer: { js: '}).apply(...(typeof __tsrunModuleArgs === "object" ? [__tsrunModuleArgs[0], __tsrunModuleArgs] : [this, [exports, require, module, __filename, __dirname]]));' },
  logLevel: 'warning',
  plugins,
  write: false,
})));
// Written to temp files and renamed into place, so a tsrun running during a rebuild never reads
// half a bundle.
mkdirSync(join(top, 'dist'), { recursive: true });
for (const file of results.flatMap((r) => r.outputFiles)) {
  const tmp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(tmp, file.contents);
  renameSync(tmp, file.path);
}

rmSync(join(top, 'dist/code-cache'), { recursive: true, force: true });
