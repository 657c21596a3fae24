'use strict';
// Runs the CLI bundle from a V8 code cache, so Node does not parse and compile it on every command
// (test/bench/startup.md: ~5-10 ms of a ~50 ms start). Works on Node 20 and 24.
// The bundle is dist/tsrun-core.cjs for the commands that only look at or stop containers (a quarter
// of the size: ~2.5 ms less to read and load), else dist/tsrun.cjs (runtime/build.mjs).
// The cache lives in dist/code-cache, one file per Node version, V8 flags (V8 rejects a cache made
// under other flags), bundle build (size + mtime: V8 itself only checks the source length) and
// command. A cache holds the functions compiled when it was made, so it is made at the end of the
// first successful run of each command: then it has everything that command runs (e.g. the config
// validator for create, ~15 ms to compile). If dist is read-only, tsrun just runs uncached.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
// node:module's class without loading node:module, which brings in Node's ESM loader (~1.5 ms under
// the fork flags, where Node compiles its own modules without their code cache).
const Module = module.constructor;

/** Commands whose code is all in dist/tsrun-core.cjs ('none': --version, --help). */
const CORE_COMMANDS = new Set(['state', 'list', 'kill', 'start', 'delete', 'pause', 'resume', 'none']);

// The command word, found by the launcher (runtime/bin/tsrun); without it (start.cjs run by hand),
// the full bundle and a cache of its own.
const command = /^[a-z-]+$/.test(process.env.TSRUN_COMMAND ?? '') ? process.env.TSRUN_COMMAND : 'other';
delete process.env.TSRUN_COMMAND; // nothing tsrun starts inherits it
const dist = path.join(__dirname, '..', '..', 'dist');
const file = path.join(dist, CORE_COMMANDS.has(command) ? 'tsrun-core.cjs' : 'tsrun.cjs');
const source = fs.readFileSync(file, 'utf8');
const stat = fs.statSync(file);
const flags = process.execArgv.join(' ').replace(/[^\w=.-]+/g, '_');
const bundle = path.basename(file, '.cjs');
const cacheDir = path.join(dist, 'code-cache');
const cachePrefix = `${process.version}-${process.arch}-${flags}-${bundle}-`; // then the build's size-mtime
const cacheSuffix = `-${command}.bin`;
const cacheName = `${cachePrefix}${stat.size}-${Math.trunc(stat.mtimeMs)}${cacheSuffix}`;
const cacheFile = path.join(cacheDir, cacheName);

let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  // first run for this Node, flags, build and command
}
const script = new vm.Script(source, { filename: file, cachedData }); // the bundle wraps itself (runtime/build.mjs)
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(dist);

if (cachedData === undefined || script.cachedDataRejected) {
  // 'beforeExit' comes when the event loop has drained, so only in tsrun itself: a forked
  // container process never returns to the event loop (it execs or _exits).
  process.once('beforeExit', () => {
    // Only after a run that did its command's work: a failed one may have stopped early (a broken
    // config.json fails before the validator, a typo'd command word before any command), as a
    // `--help` does, and its cache would stay in use until the next build.
    if (process.exitCode || process.argv.some((a) => a === '--help' || a === '-h')) return;
    try {
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
      fs.renameSync(tmp, cacheFile);
      // This command's caches for earlier builds of the bundle are of no more use.
      for (const f of fs.readdirSync(cacheDir)) {
        const earlierBuild = f.startsWith(cachePrefix) && f.endsWith(cacheSuffix) && /^\d+-\d+$/.test(f.slice(cachePrefix.length, -cacheSuffix.length));
        if (earlierBuild && f !== cacheName) fs.rmSync(path.join(cacheDir, f), { force: true });
      }
    } catch {
      // read-only install: run uncached
    }
  });
}
// Once the event loop has drained (after the cache above is written), leave at once: process.exit
// skips tearing down the V8 heap, whose munmap of every heap page sends TLB-shootdown IPIs to the
// other CPUs (~10 % of `node -e 0` in this VM). Everything tsrun writes went out through write(2).
process.on('beforeExit', () => process.exit());
globalThis.__tsrunModuleArgs = [mod.exports, Module.createRequire(file), mod, file, dist];
try {
  script.runInThisContext();
} finally {
  delete globalThis.__tsrunModuleArgs;
}
