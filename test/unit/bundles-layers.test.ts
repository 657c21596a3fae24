// Layer application over small synthetic images built here with tar-stream: whiteouts, opaque
// dirs, hard links across layers, metadata, and every escape attempt (nothing may appear outside
// the rootfs: a sentinel dir next to the bundle is checked after each).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBundle, type BundleMode } from '../../bundles/create.js';
import { DigestMismatchError, LayerError } from '../../bundles/errors.js';
import { tarLayer, writeOciLayout, type LayerEntry, type LayerCompression } from '../../bundles/examples/oci-build.js';
import { MergedView } from '../../bundles/merged-view.js';
import { Progress } from '../../bundles/progress.js';
import { readLayersFile } from '../../bundles/rootfs.js';
import { zstdAvailable } from '../../bundles/unpack.js';

const t = suite('bundles: layers');
let top = '';
let n = 0;
let warnings: string[] = [];

t.before.each(() => {
  top = mkdtempSync(join(tmpdir(), 'tsrun-test-layers-'));
  mkdirSync(join(top, 'sentinel'));
  writeFileSync(join(top, 'sentinel', 'secret'), 'host secret\n');
  warnings = [];
});
t.after.each(() => {
  rmSync(top, { recursive: true, force: true });
});

async function image(layers: LayerEntry[][], compression: LayerCompression = 'gzip'): Promise<string> {
  const dir = join(top, `image-${n++}`);
  writeOciLayout(dir, { layers: await Promise.all(layers.map(tarLayer)), compression, config: { Cmd: ['/bin/sh'] } });
  return dir;
}

async function bundle(layers: LayerEntry[][], mode: BundleMode = 'unpack', compression: LayerCompression = 'gzip'): Promise<string> {
  const img = await image(layers, compression);
  const dest = join(top, `bundle-${n++}`);
  await createBundle({ image: img, dest, mode, cacheRoot: join(top, 'cache'), progress: new Progress(null), warn: (m) => warnings.push(m) });
  return dest;
}

/** A description of a tree: path -> "type mode uid:gid [content|target]". */
function describe(root: string, view?: MergedView): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    const st = lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      if (rel) out.set(rel, `dir ${mode} ${st.uid}:${st.gid}`);
      for (const name of readdirSync(abs).sort()) walk(rel ? `${rel}/${name}` : name);
    } else if (st.isSymbolicLink()) out.set(rel, `symlink -> ${readlinkSync(abs)}`);
    else if (st.isFile()) out.set(rel, `file ${mode} ${st.uid}:${st.gid} ${readFileSync(abs, 'utf8')}`);
    else out.set(rel, `other ${st.mode.toString(8)}`);
  };
  void view;
  walk('');
  return out;
}

/** The same description of what overlayfs would show for an overlay bundle (from the cache dirs). */
function describeMerged(bundleDir: string): Map<string, string> {
  const file = readLayersFile(bundleDir)!;
  const metaOf = (dir: string) => JSON.parse(readFileSync(join(dir, '..', 'layer.json'), 'utf8')) as { opaque: string[] };
  const view = new MergedView(file.layers.map((l) => ({ dir: l.dir, opaque: new Set(metaOf(l.dir).opaque) })).reverse());
  const out = new Map<string, string>();
  const names = (rel: string): string[] => {
    const seen = new Set<string>();
    for (const l of [...file.layers].reverse()) {
      const abs = rel ? join(l.dir, rel) : l.dir;
      try {
        for (const name of readdirSync(abs)) seen.add(name);
      } catch {
        // not in this layer
      }
    }
    return [...seen].sort();
  };
  const walk = (rel: string) => {
    for (const name of names(rel)) {
      const child = rel ? `${rel}/${name}` : name;
      const hit = view.lookup(child);
      if (!hit) continue;
      const st = hit.st;
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(child, `dir ${mode} ${st.uid}:${st.gid}`);
        walk(child);
      } else if (st.isSymbolicLink()) out.set(child, `symlink -> ${readlinkSync(hit.abs)}`);
      else if (st.isFile()) out.set(child, `file ${mode} ${st.uid}:${st.gid} ${readFileSync(hit.abs, 'utf8')}`);
      else out.set(child, `other ${st.mode.toString(8)}`);
    }
  };
  walk('');
  return out;
}

function sentinelUntouched(): void {
  assert.equal(readdirSync(join(top, 'sentinel')), ['secret']);
  assert.is(readFileSync(join(top, 'sentinel', 'secret'), 'utf8'), 'host secret\n');
  const names = readdirSync(top).filter((f) => !/^(image|bundle)-\d+$|^sentinel$|^cache$/.test(f));
  assert.equal(names, [], `unexpected files next to the bundle: ${names.join(', ')}`);
}

/** Both modes must agree; returns the flat description. */
async function bothModes(layers: LayerEntry[][]): Promise<Map<string, string>> {
  const flat = describe(join(await bundle(layers, 'unpack'), 'rootfs'));
  const merged = describeMerged(await bundle(layers, 'overlay'));
  assert.equal(Object.fromEntries(merged), Object.fromEntries(flat), 'overlay view differs from the flat rootfs');
  return flat;
}

/** Sys has no getxattr; python's os.getxattr reads it (null when absent). */
function getxattr(path: string, name: string): string | null {
  const out = execFileSync('python3', ['-c', `import os,sys
try: sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())
except OSError: sys.stdout.write('\\0')`, path, name], { encoding: 'utf8' });
  return out === '\0' ? null : out;
}

const dir = (name: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({ name, type: 'directory', ...extra });
const file = (name: string, data: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({ name, data, ...extra });
const wh = (name: string): LayerEntry => ({ name, data: '' });

t('whiteout of a file', async () => {
  const tree = await bothModes([
    [dir('etc/'), file('etc/a', 'A'), file('etc/b', 'B')],
    [dir('etc/'), wh('etc/.wh.a')],
  ]);
  assert.not.ok(tree.has('etc/a'));
  assert.is(tree.get('etc/b'), 'file 644 0:0 B');
});

t('whiteout of a directory removes it all', async () => {
  const tree = await bothModes([
    [dir('d/'), dir('d/sub/'), file('d/sub/x', 'x'), file('d/y', 'y'), file('keep', 'k')],
    [wh('.wh.d')],
  ]);
  assert.equal([...tree.keys()], ['keep']);
});

t('opaque dir hides lower content but keeps this layer\'s, in either order', async () => {
  const tree = await bothModes([
    [dir('o/'), file('o/old', 'old'), dir('o/olddir/'), file('o/olddir/f', 'f'), dir('p/'), file('p/old', 'old')],
    [dir('o/'), wh('o/.wh..wh..opq'), file('o/new', 'new'), dir('p/'), file('p/new', 'new'), wh('p/.wh..wh..opq')],
  ]);
  assert.equal([...tree.keys()].filter((k) => k.startsWith('o/') || k.startsWith('p/')), ['o/new', 'p/new']);
});

t('whiteout of something two layers below; re-adding after a whiteout', async () => {
  const tree = await bothModes([
    [dir('a/'), file('a/one', '1'), file('a/two', '2'), file('a/three', '3')],
    [file('unrelated', 'u')],
    [dir('a/'), wh('a/.wh.one'), wh('a/.wh.two'), file('a/two', 'two again'), wh('a/.wh.three')],
    [dir('a/'), file('a/three', 'back in layer 4')],
  ]);
  assert.not.ok(tree.has('a/one'));
  assert.is(tree.get('a/two'), 'file 644 0:0 two again');
  assert.is(tree.get('a/three'), 'file 644 0:0 back in layer 4');
});

t('a whiteout after a same-layer entry leaves that entry (whiteouts hide lower layers only)', async () => {
  const tree = await bothModes([
    [file('f', 'lower')],
    [file('f', 'same layer'), wh('.wh.f')],
  ]);
  assert.is(tree.get('f'), 'file 644 0:0 same layer');
});

t('a file replaces a lower dir, a dir replaces a lower file and symlink', async () => {
  const tree = await bothModes([
    [dir('x/'), file('x/inner', 'i'), file('y', 'file'), { name: 'z', type: 'symlink', linkname: '/etc' }],
    [file('x', 'now a file'), dir('y/', { mode: 0o700 }), file('y/in', 'in'), dir('z/'), file('z/in', 'in z')],
  ]);
  assert.is(tree.get('x'), 'file 644 0:0 now a file');
  assert.is(tree.get('y'), 'dir 700 0:0');
  assert.is(tree.get('z/in'), 'file 644 0:0 in z');
  assert.not.ok(tree.has('etc/in'));
});

t('hard links within and across layers share an inode', async () => {
  const layers: LayerEntry[][] = [
    [dir('bin/'), file('bin/tool', 'TOOL', { mode: 0o755 }), { name: 'bin/alias1', type: 'link', linkname: 'bin/tool' }],
    [dir('sbin/'), { name: 'sbin/alias2', type: 'link', linkname: '/bin/tool' }],
  ];
  const flat = await bundle(layers, 'unpack');
  const ino = (p: string) => lstatSync(join(flat, 'rootfs', p)).ino;
  assert.is(ino('bin/alias1'), ino('bin/tool'));
  assert.is(ino('sbin/alias2'), ino('bin/tool'));
  assert.is(lstatSync(join(flat, 'rootfs', 'bin/tool')).nlink, 3);
  await bothModes(layers);
  // overlay mode: the lower file was copied up so both names of layer 2 are one inode
  const ov = await bundle(layers, 'overlay');
  const file2 = readLayersFile(ov)!;
  const l2 = file2.layers[1].dir;
  assert.is(lstatSync(join(l2, 'sbin/alias2')).ino, lstatSync(join(l2, 'bin/tool')).ino);
  assert.is(file2.layers[1].key === file2.layers[1].diffId, false, 'a layer that copied up a lower file is keyed by chain id');
});

t('metadata: owners, modes with setuid/sticky, mtimes, symlinks as written, fifos, devices, xattrs', async () => {
  const mtime = new Date('2021-05-06T07:08:09Z');
  const flat = await bundle([[
    dir('srv/', { mode: 0o1777, uid: 12, gid: 34, mtime }),
    file('srv/suid', 'S', { mode: 0o4755, uid: 1000, gid: 1000, mtime }),
    { name: 'srv/abs', type: 'symlink', linkname: '/etc/shadow', uid: 5, gid: 6 },
    { name: 'srv/rel', type: 'symlink', linkname: '../../../../x' },
    { name: 'srv/fifo', type: 'fifo', mode: 0o640 },
    { name: 'srv/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    file('srv/attr', 'x', { xattrs: { 'user.tsrun': 'hello', 'trusted.overlay.opaque': 'y' } }),
  ]]);
  const r = (p: string) => join(flat, 'rootfs', p);
  const st = lstatSync(r('srv'));
  assert.is(st.mode & 0o7777, 0o1777);
  assert.is(`${st.uid}:${st.gid}`, '12:34');
  assert.is(st.mtime.getTime(), mtime.getTime());
  const s = lstatSync(r('srv/suid'));
  assert.is(s.mode & 0o7777, 0o4755);
  assert.is(`${s.uid}:${s.gid}`, '1000:1000');
  assert.is(s.mtime.getTime(), mtime.getTime());
  assert.is(readlinkSync(r('srv/abs')), '/etc/shadow');
  assert.is(lstatSync(r('srv/abs')).uid, 5);
  assert.is(readlinkSync(r('srv/rel')), '../../../../x');
  assert.ok(lstatSync(r('srv/fifo')).isFIFO());
  assert.is(lstatSync(r('srv/fifo')).mode & 0o777, 0o640);
  const dev = lstatSync(r('srv/null'));
  assert.ok(dev.isCharacterDevice());
  assert.is(dev.rdev, (1 << 8) | 3);
  assert.is(getxattr(r('srv/attr'), 'user.tsrun'), 'hello');
  assert.is(getxattr(r('srv/attr'), 'trusted.overlay.opaque'), null);
  assert.ok(warnings.some((w) => w.includes('trusted.overlay.opaque')), 'the overlay xattr from the image is refused with a warning');
});

// --- escapes

async function rejected(layers: LayerEntry[][], pattern: RegExp, mode: BundleMode = 'unpack'): Promise<void> {
  const img = await image(layers);
  const dest = join(top, `bundle-${n++}`);
  try {
    await createBundle({ image: img, dest, mode, cacheRoot: join(top, 'cache'), progress: new Progress(null), warn: (m) => warnings.push(m) });
    assert.unreachable('the layer was accepted');
  } catch (e) {
    assert.instance(e, LayerError);
    assert.match((e as Error).message, pattern);
  }
  assert.not.ok(existsSync(dest), 'a failed bundle is removed');
  sentinelUntouched();
}

for (const mode of ['unpack', 'overlay'] as BundleMode[]) {
  t(`${mode}: "../" names are refused`, async () => {
    await rejected([[file('../../sentinel/pwned', 'x')]], /entry "..\/..\/sentinel\/pwned": path climbs out/, mode);
    await rejected([[dir('a/'), file('a/../../../sentinel/pwned', 'x')]], /climbs out/, mode);
    await rejected([[wh('../../sentinel/.wh.secret')]], /climbs out/, mode);
  });

  t(`${mode}: hard links out of the rootfs are refused; to host paths they find nothing`, async () => {
    await rejected([[{ name: 'hl', type: 'link', linkname: '../../sentinel/secret' }]], /hard link target "..\/..\/sentinel\/secret" is outside/, mode);
    await rejected([[{ name: 'hl', type: 'link', linkname: join(top, 'sentinel/secret') }]], /does not exist/, mode);
  });

  t(`${mode}: absolute names and symlinked parents stay inside the rootfs`, async () => {
    const b = await bundle([
      [file(`${join(top, 'sentinel')}/abs`, 'abs name')],
      [{ name: 'evil', type: 'symlink', linkname: join(top, 'sentinel') }, { name: 'up', type: 'symlink', linkname: '../../../../../..' }],
      [file('evil/via-abs-link', '1'), file('up/via-dotdot-link', '2'), file('up/sentinel/x', '3')],
    ], mode);
    sentinelUntouched();
    if (mode === 'unpack') {
      const inside = join(b, 'rootfs', top.slice(1), 'sentinel');
      assert.equal(readdirSync(inside).sort(), ['abs', 'via-abs-link']);
      assert.is(readFileSync(join(b, 'rootfs', 'via-dotdot-link'), 'utf8'), '2');
      assert.is(readFileSync(join(b, 'rootfs', 'sentinel', 'x'), 'utf8'), '3');
    }
  });

  t(`${mode}: a directory swapped for a symlink by a later layer is resolved inside`, async () => {
    await bundle([
      [dir('d/'), file('d/a', 'a')],
      [{ name: 'd', type: 'symlink', linkname: join(top, 'sentinel') }],
      [file('d/pwned', 'x'), { name: 'd/hl', type: 'link', linkname: 'd/pwned' }, wh('d/.wh.secret')],
    ], mode);
    sentinelUntouched();
  });

  t(`${mode}: a whiteout or opaque marker through a symlink does not touch the host`, async () => {
    await bundle([
      [{ name: 's', type: 'symlink', linkname: join(top, 'sentinel') }, { name: 's2', type: 'symlink', linkname: '../sentinel' }],
      [wh('s/.wh.secret'), wh('s2/.wh.secret'), wh('s/.wh..wh..opq')],
    ], mode);
    sentinelUntouched();
  });
}

t('unprivileged: device nodes are skipped with a warning', async () => {
  const { LayerApplier } = await import('../../bundles/layer-apply.js');
  const { linuxSys } = await import('../../runtime/sys/linux.js');
  const root = join(top, 'rootfs');
  mkdirSync(root);
  const applier = new LayerApplier({ root, mode: 'flat', layer: 'test', privileged: false, sys: linuxSys, warn: (m) => warnings.push(m) });
  const base = { linkname: '', mode: 0o666, uid: 0, gid: 0, size: 0, mtime: 0, xattrs: new Map() };
  applier.entry({ ...base, name: 'dev/sda', type: 'block', devmajor: 8, devminor: 0 });
  applier.entry({ ...base, name: 'dev/mem', type: 'char', devmajor: 1, devminor: 1 });
  applier.finish();
  assert.equal(readdirSync(join(root, 'dev')), []);
  assert.is(warnings.filter((w) => w.includes('skipped device node')).length, 2);
});

t('a corrupt layer blob is a digest error naming the blob, and no bundle is left', async () => {
  const img = await image([[file('a', 'a'.repeat(1000))]], 'none');
  const index = JSON.parse(readFileSync(join(img, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(img, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const layerPath = join(img, 'blobs/sha256', manifest.layers[0].digest.slice(7));
  const data = readFileSync(layerPath);
  data[600] ^= 1; // inside the file content: the tar still parses
  writeFileSync(layerPath, data);
  const dest = join(top, 'bundle-corrupt');
  try {
    await createBundle({ image: img, dest, progress: new Progress(null) });
    assert.unreachable('accepted');
  } catch (e) {
    assert.instance(e, DigestMismatchError);
    assert.match((e as Error).message, manifest.layers[0].digest.slice(7));
  }
  assert.not.ok(existsSync(dest));
});

t('zstd layers: unpacked where Node has zstd, else a clear error naming the layer', async () => {
  const layers = [[file('z', 'zstd content')]];
  if (zstdAvailable()) {
    const b = await bundle(layers, 'unpack', 'zstd');
    assert.is(readFileSync(join(b, 'rootfs/z'), 'utf8'), 'zstd content');
    return;
  }
  const img = await image(layers, 'zstd');
  const err = await createBundle({ image: img, dest: join(top, 'bundle-z'), progress: new Progress(null) }).catch((e) => e);
  assert.instance(err, LayerError);
  assert.match(err.message, /layer sha256:[0-9a-f]{12}: is zstd-compressed, and this Node \(v\d+/);
});

t('uncompressed and gzip layers with long names (PAX) and GNU long names', async () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  const b = await bundle([[dir(`${'d'.repeat(120)}/`), file(long, 'long')]], 'unpack', 'none');
  assert.is(readFileSync(join(b, 'rootfs', long), 'utf8'), 'long');
  // GNU format from GNU tar
  const src = join(top, 'gnu-src');
  mkdirSync(join(src, 'g'.repeat(110)), { recursive: true });
  writeFileSync(join(src, 'g'.repeat(110), 'h'.repeat(120)), 'gnu');
  const tarBuf = execFileSync('tar', ['--format=gnu', '-C', src, '-cf', '-', '.']);
  const img = join(top, 'image-gnu');
  writeOciLayout(img, { layers: [tarBuf], compression: 'gzip' });
  const dest = join(top, 'bundle-gnu');
  await createBundle({ image: img, dest, progress: new Progress(null) });
  assert.is(readFileSync(join(dest, 'rootfs', 'g'.repeat(110), 'h'.repeat(120)), 'utf8'), 'gnu');
  rmSync(src, { recursive: true });
});

t('overlay: a config whose diff_id lies about a layer is refused (the cache is keyed by it)', async () => {
  const img = await image([[file('a', 'real content')]]);
  const blobs = join(img, 'blobs/sha256');
  const index = JSON.parse(readFileSync(join(img, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(blobs, index.manifests[0].digest.slice(7)), 'utf8'));
  const config = JSON.parse(readFileSync(join(blobs, manifest.config.digest.slice(7)), 'utf8'));
  const forged = 'sha256:' + 'ab'.repeat(32);
  config.rootfs.diff_ids = [forged];
  const put = (o: unknown) => {
    const data = Buffer.from(JSON.stringify(o));
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  manifest.config = { ...manifest.config, ...put(config) };
  index.manifests[0] = { ...index.manifests[0], ...put(manifest) };
  writeFileSync(join(img, 'index.json'), JSON.stringify(index));
  const cache = join(top, 'cache');
  const err = await createBundle({ image: img, dest: join(top, 'bundle-forged'), mode: 'overlay', cacheRoot: cache, progress: new Progress(null) }).catch((e) => e);
  assert.instance(err, DigestMismatchError);
  assert.match(err.message, /diff_id/);
  assert.not.ok(existsSync(join(cache, 'layers/sha256', 'ab'.repeat(32))), 'nothing cached under the forged key');
  assert.equal(readdirSync(join(cache, 'layers/sha256')), [], 'no temp dir left');
});

t('overlay: a second bundle from the same image unpacks nothing', async () => {
  const img = await image([[file('a', '1')], [file('b', '2')]]);
  const cache = join(top, 'cache');
  const r1 = await createBundle({ image: img, dest: join(top, 'bundle-o1'), mode: 'overlay', cacheRoot: cache, progress: new Progress(null) });
  const r2 = await createBundle({ image: img, dest: join(top, 'bundle-o2'), mode: 'overlay', cacheRoot: cache, progress: new Progress(null) });
  assert.is(r1.unpackedLayers, 2);
  assert.is(r2.unpackedLayers, 0);
  assert.equal(readdirSync(join(cache, 'layers/sha256')).filter((f) => f.startsWith('.tmp')), []);
});

t('overlay: whiteouts are char devices 0:0, opaque dirs carry trusted.overlay.opaque=y', async () => {
  const b = await bundle([
    [dir('o/'), file('o/x', 'x'), file('gone', 'g')],
    [wh('.wh.gone'), dir('o/'), wh('o/.wh..wh..opq'), wh('.wh.never-existed')],
  ], 'overlay');
  const l2 = readLayersFile(b)!.layers[1].dir;
  const st = lstatSync(join(l2, 'gone'));
  assert.ok(st.isCharacterDevice());
  assert.is(st.rdev, 0);
  assert.not.ok(existsSync(join(l2, 'never-existed')), 'no whiteout for a name no lower layer has');
  assert.is(getxattr(join(l2, 'o'), 'trusted.overlay.opaque'), 'y');
});

t.run();
