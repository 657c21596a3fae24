#!/usr/bin/env node
// Unpack speed, side by side on one multi-layer image:
//   tsrun bundle create --unpack   (the bundled CLI, a fresh Node per run)
//   umoci unpack
//   GNU tar -xzf of the same layer blobs in order (raw extraction: no whiteouts applied)
// and for overlay bundles: the first `bundle create --overlay` (layers into the cache), a second
// one (all cached), and a second container's rootfs: prepareRootfs + the overlay mount (done in a
// forked child in its own mount namespace, as the runtime does).
//
// The image: debootstrap is not used (not installed here, and it needs the network); the base
// layer is a tar of parts of this machine's /usr (~190 MB, ~15k files), layer 2 deletes a dir and
// files (whiteouts) and adds /usr/share/i18n, layer 3 adds a 64 MB file. Layers are gzip.
//
// Usage: node test/bench/unpack.mjs [runs]      (root needed: umoci and overlay; ~1-2 minutes)
// Env: TSRUN_BENCH_DIR (work dir, default a temp dir, removed at the end).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const top = dirname(dirname(dirname(here)));

// The overlay timing forks: re-run under --single-threaded with TypeScript loaded.
if (!process.env.TSRUN_BENCH_CHILD) {
  const env = { ...process.env, TSRUN_BENCH_CHILD: '1' };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = spawnSync(process.execPath, ['--single-threaded', '--import', 'tsx', here, ...process.argv.slice(2)], { stdio: 'inherit', env, cwd: top });
  process.exit(r.status ?? 1);
}

const runs = Number(process.argv[2] ?? 5);
const { writeOciLayout } = await import('../../bundles/examples/oci-build.ts');
const { prepareRootfs, releaseRootfs } = await import('../../bundles/rootfs.ts');
const { linuxSys: sys } = await import('../../runtime/sys/linux.ts');
const { CLONE, MS } = await import('../../runtime/sys/constants.ts');
const { build } = await import('esbuild');

if (process.geteuid() !== 0) {
  console.error('run as root (umoci unpack and overlay mounts need it)');
  process.exit(1);
}
const work = process.env.TSRUN_BENCH_DIR || mkdtempSync(join(tmpdir(), 'tsrun-bench-unpack-'));
mkdirSync(work, { recursive: true });
const cleanWork = !process.env.TSRUN_BENCH_DIR;
const log = (s) => process.stderr.write(`${s}\n`);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 30, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r;
}

try {
  // --- the image
  const layout = join(work, 'image');
  if (!existsSync(join(layout, 'index.json'))) {
    log('building the image (base from /usr, whiteouts + adds, 64 MB file)...');
    const baseDirs = ['usr/lib/python3.11', 'usr/include', 'usr/sbin', 'usr/share/zoneinfo'].filter((d) => existsSync(`/${d}`));
    const base = execFileSync('tar', ['-C', '/', '--format=posix', '-cf', '-', ...baseDirs], { maxBuffer: 1 << 30 });
    const stage2 = join(work, 'stage2');
    mkdirSync(join(stage2, 'usr/include'), { recursive: true });
    mkdirSync(join(stage2, 'usr/share'), { recursive: true });
    writeFileSync(join(stage2, 'usr/include/.wh.linux'), '');
    writeFileSync(join(stage2, 'usr/include/.wh.stdio.h'), '');
    writeFileSync(join(stage2, 'usr/include/.wh.stdlib.h'), '');
    execFileSync('cp', ['-a', '/usr/share/i18n', join(stage2, 'usr/share/')]);
    const layer2 = execFileSync('tar', ['-C', stage2, '--format=posix', '-cf', '-', '.'], { maxBuffer: 1 << 30 });
    const stage3 = join(work, 'stage3');
    mkdirSync(join(stage3, 'data'), { recursive: true });
    writeFileSync(join(stage3, 'data/big.bin'), randomBytes(64 * 1024 * 1024));
    const layer3 = execFileSync('tar', ['-C', stage3, '--format=posix', '-cf', '-', '.'], { maxBuffer: 1 << 30 });
    rmSync(stage2, { recursive: true });
    rmSync(stage3, { recursive: true });
    writeOciLayout(layout, { layers: [base, layer2, layer3], compression: 'gzip', tag: 'bench', config: { Cmd: ['/bin/sh'] } });
    log(`  layers (uncompressed): ${[base, layer2, layer3].map((b) => `${(b.length / 1e6).toFixed(0)} MB`).join(', ')}`);
  }
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const blobs = manifest.layers.map((l) => join(layout, 'blobs/sha256', l.digest.slice(7)));
  const ref = `${layout}:bench`;

  // --- tsrun's CLI as one bundled file, as the real launcher runs it
  const cli = join(work, 'tsrun-bundle-cli.cjs');
  await build({
    stdin: { contents: "import { bundleCommand } from './bundles/cli.ts'; bundleCommand(process.argv.slice(2)).then((c) => process.exit(c));", resolveDir: top, loader: 'ts' },
    outfile: cli, bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['koffi'], logLevel: 'error',
    logOverride: { 'empty-import-meta': 'silent' },
  });
  const nodeEnv = { ...process.env, NODE_PATH: join(top, 'node_modules') };
  delete nodeEnv.NODE_EXTRA_CA_CERTS;
  const tsrun = (args) => sh(process.execPath, ['--single-threaded', cli, ...args], { env: nodeEnv });

  const results = {};
  const cache = join(work, 'cache');
  let outN = 0;
  let out = '';
  const contenders = [
    ['GNU tar -xzf, 3 layers', () => mkdirSync(out), () => { for (const b of blobs) sh('tar', ['-xzf', b, '-C', out]); }],
    ['umoci unpack', null, () => sh('umoci', ['unpack', '--image', ref, out])],
    ['tsrun bundle create --unpack', null, () => tsrun(['create', '--image', ref, '--unpack', out])],
    ['tsrun --overlay, empty cache', null, () => tsrun(['create', '--image', ref, '--overlay', '--cache', `${out}-cache`, out])],
  ];
  // Interleaved rounds, each run into a fresh directory, nothing deleted until the end: on ext4,
  // inodes freed in the last seconds are skipped by the allocator (recently_deleted), so deleting
  // one run's output right before the next one slows whoever comes next. sync before each run.
  const outs = join(work, 'outs');
  mkdirSync(outs, { recursive: true });
  log(`timing, ${runs} rounds (medians below)...`);
  const times = Object.fromEntries(contenders.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, prepare, fn] of contenders) {
      out = join(outs, String(outN++));
      prepare?.();
      sh('sync', []);
      times[name].push(time(fn));
    }
  }
  for (const [name] of contenders) {
    results[name] = median(times[name]);
    log(`  ${name}: ${times[name].map((t) => t.toFixed(0)).join(' ')} ms`);
  }
  tsrun(['create', '--image', ref, '--overlay', '--cache', cache, join(outs, 'ovl-bundle')]);
  const cachedTimes = [];
  for (let i = 0; i < runs; i++) {
    out = join(outs, String(outN++));
    cachedTimes.push(time(() => tsrun(['create', '--image', ref, '--overlay', '--cache', cache, out])));
  }
  results['tsrun --overlay, all layers cached'] = median(cachedTimes);
  log(`  tsrun --overlay, all layers cached: ${cachedTimes.map((t) => t.toFixed(0)).join(' ')} ms`);

  // Second container: prepareRootfs + the overlay mount in a forked child's own mount namespace.
  const bundleDir = join(outs, 'ovl-bundle');
  const state = join(work, 'state');
  mkdirSync(state, { recursive: true });
  const second = [];
  for (let i = 0; i < Math.max(runs, 10); i++) {
    const id = `bench-${i}`;
    const t0 = process.hrtime.bigint();
    const plan = await prepareRootfs(bundleDir, join(bundleDir, 'rootfs'), id, state);
    const pid = sys.fork();
    if (pid === 0) {
      let code = 0;
      try {
        sys.unshare(CLONE.NEWNS);
        sys.mount(null, '/', null, MS.REC | MS.PRIVATE, null);
        sys.mount(plan.source, plan.target, plan.fstype, 0, plan.data);
        if (!sys.access(join(plan.target, 'data/big.bin'), 0)) code = 3;
      } catch {
        code = 2;
      }
      sys.exit(code);
    }
    const { status } = sys.waitpid(pid);
    second.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (status !== 0) throw new Error(`overlay mount in the child failed (wait status ${status})`);
    await releaseRootfs(id, state);
  }
  results['2nd container: prepareRootfs + mount'] = median(second);
  rmSync(outs, { recursive: true, force: true });
  log(`  2nd container: prepareRootfs + mount: ${second.map((t) => t.toFixed(1)).join(' ')} ms`);

  const tar = results['GNU tar -xzf, 3 layers'];
  const blobMB = blobs.reduce((n, b) => n + statSync(b).size, 0) / 1e6;
  console.log(`\nunpack benchmark: 3 gzip layers, ${blobMB.toFixed(0)} MB compressed; medians of ${runs}; node ${process.version}; work dir on ${execFileSync('stat', ['-f', '-c', '%T', work], { encoding: 'utf8' }).trim()}`);
  console.log(`${'what'.padEnd(42)} ${'median ms'.padStart(10)} ${'vs GNU tar'.padStart(11)}`);
  for (const [name, ms] of Object.entries(results)) {
    console.log(`${name.padEnd(42)} ${ms.toFixed(name.startsWith('2nd') ? 1 : 0).padStart(10)} ${(ms / tar).toFixed(2).padStart(10)}x`);
  }
} finally {
  if (cleanWork) rmSync(work, { recursive: true, force: true });
}
