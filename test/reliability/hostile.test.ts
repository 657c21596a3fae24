// Hostile rootfs images through the real `tsrun run`: symlinks that try to point the runtime's own
// mounts outside the rootfs. Guarantees:
//   - /proc as a symlink (absolute or ../) is refused, naming /proc; nothing is created outside
//   - /dev, /sys or a mount destination that is a symlink out of the rootfs lands inside the rootfs
//     (the link is resolved as if the rootfs were /), or is refused; the host path stays untouched
//   - a destination that resolves to the container root itself is refused
//   - in every case: no process, mount, cgroup or state is left
// The same escapes at the layer level (tar entries, whiteouts, hard links) are in
// test/unit/bundles-layers.test.ts; the mount code in a throwaway namespace in
// test/integration/rootfs-mountns.test.ts. The names are checked below so a rename is noticed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox, TOP } from '../support/containers.js';
import { makeBusyboxRootfs } from '../support/busybox-rootfs.js';
import { describe, isClean, settledLeftovers } from './leaks.js';
import type { Spec } from '../../spec/types.js';

const t = suite('hostile rootfs through tsrun run');
let sb: Sandbox;
let sentinel: string;
t.before.each(() => {
  sb = new Sandbox();
  sentinel = mkdtempSync(join(tmpdir(), 'tsrun-test-sentinel-'));
});
t.after.each(() => {
  sb.cleanup();
  rmSync(sentinel, { recursive: true, force: true });
});

/** A private busybox rootfs with `links` (path in rootfs -> link target) replacing what is there. */
function hostileBundle(links: Record<string, string>, args: string[], edit: (s: Spec) => void = () => {}): string {
  const rootfs = join(sb.dir, `rootfs-${Math.random().toString(36).slice(2, 8)}`);
  makeBusyboxRootfs(rootfs);
  for (const [path, target] of Object.entries(links)) {
    rmSync(join(rootfs, path), { recursive: true, force: true });
    mkdirSync(join(rootfs, path, '..'), { recursive: true });
    symlinkSync(target, join(rootfs, path));
  }
  return sb.bundle(args, (s) => {
    s.root = { path: rootfs, readonly: false };
    edit(s);
  });
}

const rootfsOf = (bundle: string) => JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).root.path as string;
const relativeOut = (to: string) => `../../../../../../../..${to}`;

async function assertNothingLeft(what: string) {
  assert.equal(readdirSync(sentinel), [], `${what}: something was made in the host directory the link names`);
  const l = await settledLeftovers(sb);
  assert.ok(isClean(l), `${what}: left behind ${describe(l)}`);
}

for (const [kind, target] of [['absolute', () => `${sentinel}/proc`], ['relative ../', () => relativeOut(`${sentinel}/proc`)]] as const) {
  t(`/proc is a symlink out of the rootfs (${kind}): refused, naming /proc`, async () => {
    const bundle = hostileBundle({ proc: target() }, ['true']);
    const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
    assert.is(r.code, 1, `ran anyway: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /\/proc/);
    assert.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    await assertNothingLeft('/proc link');
  });
}

t('/dev is a symlink out of the rootfs: the container\'s /dev is made inside the rootfs', async () => {
  const bundle = hostileBundle({ dev: `${sentinel}/dev` }, ['sh', '-c', 'test -c /dev/null && echo > /dev/null && ls /dev/pts >/dev/null && echo dev-ok']);
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  if (r.code === 0) {
    assert.match(r.stdout, /dev-ok/);
    assert.ok(lstatSync(join(rootfsOf(bundle), sentinel.slice(1), 'dev')).isDirectory(), 'the link was followed inside the rootfs');
  } else {
    assert.match(r.stderr, /\/dev/, `refused, naming /dev: ${r.stderr}`);
  }
  await assertNothingLeft('/dev link');
});

t('/sys is a symlink out of the rootfs (../): sysfs lands inside or is refused', async () => {
  const bundle = hostileBundle({ sys: relativeOut(`${sentinel}/sys`) }, ['sh', '-c', 'test -d /sys/kernel && echo sys-ok']);
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  if (r.code === 0) assert.match(r.stdout, /sys-ok/);
  else assert.match(r.stderr, /\/sys/, `refused, naming /sys: ${r.stderr}`);
  await assertNothingLeft('/sys link');
});

t('a tmpfs and a bind destination behind symlinks out of the rootfs land inside it', async () => {
  const hostFile = join(sb.dir, 'hostfile');
  writeFileSync(hostFile, 'host data\n');
  const bundle = hostileBundle(
    { 'mnt/scratch': `${sentinel}/scratch`, 'etc/viafile': relativeOut(`${sentinel}/viafile`) },
    ['sh', '-c', 'echo written > /mnt/scratch/mark && cat /etc/viafile && echo mounts-ok'],
    (s) => {
      s.mounts!.push({ destination: '/mnt/scratch', type: 'tmpfs', source: 'tmpfs' });
      s.mounts!.push({ destination: '/etc/viafile', type: 'bind', source: hostFile, options: ['bind', 'ro'] });
    },
  );
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /host data\nmounts-ok/);
  assert.ok(lstatSync(join(rootfsOf(bundle), sentinel.slice(1), 'scratch')).isDirectory(), 'mountpoint made inside the rootfs');
  await assertNothingLeft('destination links');
});

t('a destination symlink that resolves to the container root is refused, naming the mount', async () => {
  const bundle = hostileBundle({ 'mnt/up': '../../..' }, ['true'], (s) => {
    s.mounts!.push({ destination: '/mnt/up', type: 'tmpfs', source: 'tmpfs' });
  });
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 1, `ran anyway: ${r.stderr}`);
  assert.match(r.stderr, /\/mnt\/up/);
  await assertNothingLeft('link to root');
});

t('process.cwd is a symlink out of the rootfs: resolved inside it (chdir after pivot_root)', async () => {
  const bundle = hostileBundle({ work: `${sentinel}/work` }, ['sh', '-c', 'pwd; echo here > marker'], (s) => {
    s.process!.cwd = '/work';
  });
  mkdirSync(join(rootfsOf(bundle), sentinel.slice(1), 'work'), { recursive: true });
  const r = sb.tsrun(['run', '--bundle', bundle, sb.id()]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(join(rootfsOf(bundle), sentinel.slice(1), 'work', 'marker')), 'the write went inside the rootfs');
  await assertNothingLeft('cwd link');
});

t('the layer and mount-namespace escape tests exist and are part of the run', () => {
  const layers = readFileSync(join(TOP, 'test/unit/bundles-layers.test.ts'), 'utf8');
  const mountns = readFileSync(join(TOP, 'test/integration/rootfs-mountns.test.ts'), 'utf8');
  assert.match(layers, /escape/);
  assert.match(mountns, /symlinked destinations \(absolute and \.\.\/\) land inside the rootfs/);
  assert.match(mountns, /\/proc and \/dev as symlinks pointing outside/);
});

t.run();
