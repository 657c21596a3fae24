// config.json from the image config, user resolution, image selection, the CLI's flags, and the
// runtime hooks (prepareRootfs / releaseRootfs) without mounting anything.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCommand } from '../../bundles/cli.js';
import { createBundle } from '../../bundles/create.js';
import { BundleError, ImageError } from '../../bundles/errors.js';
import { tarLayer, writeOciLayout } from '../../bundles/examples/oci-build.js';
import { resolveImageUser } from '../../bundles/image-user.js';
import { LAYERS_FILE, type LayersFile } from '../../bundles/layers-file.js';
import { Progress } from '../../bundles/progress.js';
import { MOUNT_DATA_MAX, prepareRootfs, releaseRootfs } from '../../bundles/rootfs.js';
import { specFromImage } from '../../bundles/spec-from-image.js';
import type { Spec } from '../../spec/types.js';

const t = suite('bundles: config, images, cli, rootfs plan');
let top = '';
t.before.each(() => {
  top = mkdtempSync(join(tmpdir(), 'tsrun-test-bcfg-'));
});
t.after.each(() => {
  rmSync(top, { recursive: true, force: true });
});

const files: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n# comment\nweb:x:33:33:www:/var/www:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n',
  '/etc/group': 'root:x:0:\nweb:x:33:\nwheel:x:10:alice,bob\nvideo:x:44:alice\nalice:x:1000:\n',
};
const read = (p: string) => (p in files ? Buffer.from(files[p]) : null);

t('User: names, numbers, groups, additional gids (runc rules)', () => {
  assert.equal(resolveImageUser(undefined, read), { uid: 0, gid: 0 });
  assert.equal(resolveImageUser('web', read), { uid: 33, gid: 33 });
  assert.equal(resolveImageUser('alice', read), { uid: 1000, gid: 1000, additionalGids: [10, 44] });
  assert.equal(resolveImageUser('alice:wheel', read), { uid: 1000, gid: 10 });
  assert.equal(resolveImageUser('1000', read), { uid: 1000, gid: 1000, additionalGids: [10, 44] });
  assert.equal(resolveImageUser('4242', read), { uid: 4242, gid: 0 });
  assert.equal(resolveImageUser('4242:77', read), { uid: 4242, gid: 77 });
  assert.equal(resolveImageUser('web:video', read), { uid: 33, gid: 44 });
  assert.throws(() => resolveImageUser('mallory', read), (e: Error) => e instanceof BundleError && /no user "mallory"/.test(e.message));
  assert.throws(() => resolveImageUser('web:nogroup', read), /no group "nogroup"/);
  assert.throws(() => resolveImageUser('web', () => null), /no user "web"/);
  assert.equal(resolveImageUser('0:0', () => null), { uid: 0, gid: 0 });
});

t('config.json: args, env, cwd, user, annotations on top of the default spec; terminal false', () => {
  const spec = specFromImage({
    architecture: 'amd64', os: 'linux',
    config: {
      Entrypoint: ['/usr/bin/app'], Cmd: ['--port', '80'], Env: ['PATH=/app/bin', 'LANG=C.UTF-8'], WorkingDir: '/srv',
      User: 'alice', ExposedPorts: { '80/tcp': {}, '53/udp': {} }, Labels: { maintainer: 'x' }, StopSignal: 'SIGQUIT',
    },
  }, { readRootfsFile: read });
  assert.equal(spec.process!.args, ['/usr/bin/app', '--port', '80']);
  assert.equal(spec.process!.env, ['PATH=/app/bin', 'TERM=xterm', 'LANG=C.UTF-8']);
  assert.is(spec.process!.cwd, '/srv');
  assert.is(spec.process!.terminal, false);
  assert.equal(spec.process!.user, { uid: 1000, gid: 1000, additionalGids: [10, 44] });
  assert.is(spec.annotations!['org.opencontainers.image.exposedPorts'], '80/tcp,53/udp');
  assert.is(spec.annotations!.maintainer, 'x');
  assert.is(spec.annotations!['org.opencontainers.image.stopSignal'], 'SIGQUIT');
  assert.equal(spec.root, { path: 'rootfs', readonly: false });
  assert.ok(spec.linux!.namespaces!.some((ns) => ns.type === 'mount'), 'default spec kept');
  const onlyCmd = specFromImage({ config: { Cmd: ['sh'] } }, { readRootfsFile: read });
  assert.equal(onlyCmd.process!.args, ['sh']);
  assert.is(onlyCmd.process!.cwd, '/');
});

async function layout(dir: string, tag: string, files: Record<string, string>, user?: string): Promise<void> {
  const entries = [{ name: 'etc/', type: 'directory' as const }, ...Object.entries(files).map(([name, data]) => ({ name, data }))];
  writeOciLayout(dir, { layers: [await tarLayer(entries)], tag, config: { Cmd: ['/bin/true'], User: user } });
}

t('image selection: by tag, DIR:TAG, several tags without --tag, unknown tag; User resolved from the rootfs', async () => {
  const img = join(top, 'img');
  await layout(img, 'one', { 'etc/passwd': 'svc:x:7:8::/:/bin/false\n', 'etc/group': '' }, 'svc');
  await layout(img, 'two', { 'etc/which': 'two' });
  const b1 = join(top, 'b1');
  await createBundle({ image: `${img}:one`, dest: b1, progress: new Progress(null) });
  const spec = JSON.parse(readFileSync(join(b1, 'config.json'), 'utf8')) as Spec;
  assert.equal(spec.process!.user, { uid: 7, gid: 8 });
  assert.is(spec.annotations!['org.opencontainers.image.ref.name'], 'one');
  await createBundle({ image: img, tag: 'two', dest: join(top, 'b2'), mode: 'overlay', cacheRoot: join(top, 'cache'), progress: new Progress(null) });
  assert.ok(existsSync(join(top, 'b2', LAYERS_FILE)));
  const e1 = await createBundle({ image: img, dest: join(top, 'b3'), progress: new Progress(null) }).catch((e) => e);
  assert.instance(e1, ImageError);
  assert.match(e1.message, /holds 2 images; choose one with --tag \(tags: one, two\)/);
  const e2 = await createBundle({ image: img, tag: 'three', dest: join(top, 'b4'), progress: new Progress(null) }).catch((e) => e);
  assert.match(e2.message, /no image tagged "three"/);
  assert.not.ok(existsSync(join(top, 'b3')));
});

t('OCI archive (tar of a layout) reads in place', async () => {
  const img = join(top, 'img');
  await layout(img, 'latest', { 'etc/hello': 'from an archive' });
  const archive = join(top, 'img.tar');
  execFileSync('tar', ['-C', img, '-cf', archive, '.']);
  const b = join(top, 'b');
  await createBundle({ image: archive, dest: b, progress: new Progress(null) });
  assert.is(readFileSync(join(b, 'rootfs/etc/hello'), 'utf8'), 'from an archive');
});

t('a tampered manifest or config is a digest error naming the blob', async () => {
  const img = join(top, 'img');
  await layout(img, 'latest', { 'etc/x': 'x' });
  const index = JSON.parse(readFileSync(join(img, 'index.json'), 'utf8'));
  const mPath = join(img, 'blobs/sha256', index.manifests[0].digest.slice(7));
  const manifest = readFileSync(mPath, 'utf8');
  writeFileSync(mPath, manifest.replace('"schemaVersion":2', '"schemaVersion":2 '));
  const err = await createBundle({ image: img, dest: join(top, 'b'), progress: new Progress(null) }).catch((e) => e);
  assert.match(err.message, new RegExp(`image manifest blob blobs/sha256/${index.manifests[0].digest.slice(7)}: digest mismatch`));
});

t('cli: usage errors exit 2, failures 1, success 0', async () => {
  const img = join(top, 'img');
  await layout(img, 'latest', { 'etc/x': 'x' });
  const quiet = async (argv: string[]) => {
    const write = process.stderr.write.bind(process.stderr);
    let err = '';
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      return { code: await bundleCommand(argv), err };
    } finally {
      process.stderr.write = write;
    }
  };
  assert.is((await quiet([])).code, 2);
  assert.is((await quiet(['frobnicate'])).code, 2);
  assert.match((await quiet(['create', join(top, 'b')])).err, /--image is required/);
  assert.is((await quiet(['create', '--image', img])).code, 2);
  assert.is((await quiet(['create', '--image', img, '--unpack', '--overlay', join(top, 'b')])).code, 2);
  assert.is((await quiet(['create', '--image', img, '--bogus', join(top, 'b')])).code, 2);
  assert.is((await quiet(['create', '--image', img, 'a', 'b'])).code, 2);
  const missing = await quiet(['create', '--image', join(top, 'nope'), join(top, 'b')]);
  assert.is(missing.code, 1);
  assert.match(missing.err, /no such file or directory/);
  assert.is((await quiet(['create', `--image=${img}`, '--tag', 'latest', join(top, 'b')])).code, 0);
  assert.ok(existsSync(join(top, 'b/config.json')));
  assert.is((await quiet(['create', '--image', img, join(top, 'b')])).code, 1, 'a non-empty DEST is refused');
});

const layerHex = (i: number) => createHash('sha256').update(String(i)).digest('hex');

function fakeOverlayBundle(layers: number, cacheRoot: string): string {
  const bundle = join(top, 'bundle');
  mkdirSync(join(bundle, 'rootfs'), { recursive: true });
  const list: LayersFile['layers'] = [];
  for (let i = 0; i < layers; i++) {
    const hex = layerHex(i);
    const dir = join(cacheRoot, 'layers/sha256', hex, 'diff');
    mkdirSync(dir, { recursive: true });
    list.push({ diffId: `sha256:${hex}`, key: `sha256:${hex}`, dir });
  }
  const file: LayersFile = { version: 1, cacheRoot, image: { source: '', ref: null, manifestDigest: null, configDigest: null }, layers: list };
  writeFileSync(join(bundle, LAYERS_FILE), JSON.stringify(file));
  return bundle;
}

t('prepareRootfs: null for a plain bundle; overlay plan with upper/work; release is idempotent', async () => {
  const plain = join(top, 'plain');
  mkdirSync(plain);
  assert.is(await prepareRootfs(plain, join(plain, 'rootfs'), 'c1', join(top, 'state')), null);
  const cache = join(top, 'cache');
  const bundle = fakeOverlayBundle(3, cache);
  const state = join(top, 'state');
  mkdirSync(state);
  const plan = (await prepareRootfs(bundle, join(bundle, 'rootfs'), 'c1', state))!;
  assert.is(plan.type, 'overlay');
  assert.is(plan.fstype, 'overlay');
  assert.is(plan.target, join(bundle, 'rootfs'));
  const lowers = /^lowerdir=([^,]+),upperdir=([^,]+),workdir=([^,]+)$/.exec(plan.data)!;
  assert.ok(lowers, plan.data);
  assert.ok(lowers[1].split(':')[0].includes(layerHex(2)), 'top layer first');
  assert.ok(lstatSync(lowers[2]).isDirectory());
  assert.ok(lstatSync(lowers[3]).isDirectory());
  assert.equal(plan.cleanupDirs, [join(cache, 'containers/c1')]);
  await releaseRootfs('c1', state);
  assert.not.ok(existsSync(join(cache, 'containers/c1')));
  await releaseRootfs('c1', state);
  await releaseRootfs('c1', join(top, 'no-such-state'));
});

t('prepareRootfs: many layers use short links; too many is a clear error', async () => {
  const cache = join(top, 'cache');
  const bundle = fakeOverlayBundle(60, cache);
  const plan = (await prepareRootfs(bundle, join(bundle, 'rootfs'), 'c2', join(top, 'nostate')))!;
  assert.ok(plan.data.length <= MOUNT_DATA_MAX);
  const first = plan.data.slice('lowerdir='.length).split(':')[0];
  assert.is(readlinkSync(first), join(cache, 'layers/sha256', layerHex(59), 'diff'));
  await releaseRootfs('c2', join(top, 'nostate'));
  rmSync(bundle, { recursive: true });
  const huge = fakeOverlayBundle(200, cache);
  const err = await prepareRootfs(huge, join(huge, 'rootfs'), 'c3', join(top, 'nostate')).catch((e) => e);
  assert.instance(err, BundleError);
  assert.match(err.message, /200 layers make overlay mount options of \d+ bytes, over the 4095-byte limit/);
  assert.not.ok(existsSync(join(cache, 'containers/c3')), 'nothing left behind');
});

t.run();
