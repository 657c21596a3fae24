'use strict';
// Runs dist/tsrun.cjs from a V8 code cache, so Node does not parse and compile the 400 KB bundle on
// every command (test/bench/startup.md: ~5-10 ms of a ~50 ms start). Works on Node 20 and 24.
// The cache lives in dist/code-cache, one file per Node version, V8 flags (V8 rejects a cache made
// under other flags) and bundle build (size + mtime: V8 itself only checks the source length).
// It is written on the first run, synchronously, before main() can fork a container init; if
// dist is read-only, tsrun just runs uncached.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const dist = path.join(__dirname, '..', '..', 'dist');
const file = path.join(dist, 'tsrun.cjs');
const source = fs.readFileSync(file, 'utf8');
const stat = fs.statSync(file);
const flags = process.execArgv.join(' ').replace(/[^\w=.-]+/g, '_');
const cacheFile = path.join(dist, 'code-cache', `${process.version}-${process.arch}-${flags}-${stat.size}-${Math.trunc(stat.mtimeMs)}.bin`);

let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  // first run for this Node, flags and build
}
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
const mod = new Module(file, module);
mod.filename = file;
mod.paths = Module._nodeModulePaths(dist);
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dist);

// main() has run up to its first await: nothing has forked yet, so this runs in tsrun itself.
if (cachedData === undefined || script.cachedDataRejected) {
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true, mode: 0o755 });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
    fs.renameSync(tmp, cacheFile);
  } catch {
    // read-only install: run uncached
  }
}
