// `tsrun bundle create`: an image in, a bundle (config.json + rootfs) out.
//   unpack:  the layers applied in order into <bundle>/rootfs (one flat tree, like umoci unpack)
//   overlay: each layer unpacked once into the layer cache; <bundle>/rootfs stays an empty mount
//            point and <bundle>/tsrun-layers.json lists the cached layer dirs bottom to top, for
//            prepareRootfs (rootfs.ts) to mount at create time.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { linuxSys } from '../runtime/sys/linux.js';
import type { Sys } from '../runtime/sys/sys.js';
import { BundleError } from './errors.js';
import { openImage, type ResolvedImage } from './image-source.js';
import { DirCache, LayerApplier } from './layer-apply.js';
import { ensureLayers, stackLayerOf } from './layer-cache.js';
import { cacheRootFor, LAYERS_FILE, type LayersFile } from './layers-file.js';
import { DirTree, MergedView } from './merged-view.js';
import { Progress } from './progress.js';
import { specFromImage } from './spec-from-image.js';
import { shortDigest, unpackLayer } from './unpack.js';

export type BundleMode = 'unpack' | 'overlay';

export interface CreateBundleOptions {
  /** OCI layout dir, OCI archive or docker save tar (or "DIR:TAG"). */
  image: string;
  tag?: string;
  dest: string;
  mode?: BundleMode;
  /** Layer cache root for overlay mode (default $TSRUN_LAYER_CACHE or /var/lib/tsrun). */
  cacheRoot?: string;
  sys?: Sys;
  warn?: (message: string) => void;
  /** Default: a progress line when stderr is a terminal. */
  progress?: Progress;
}

export interface BundleResult {
  dest: string;
  mode: BundleMode;
  image: ResolvedImage;
  layers: number;
  /** Layers unpacked by this call (overlay mode: the others came from the cache). */
  unpackedLayers: number;
}

export async function createBundle(opts: CreateBundleOptions): Promise<BundleResult> {
  const mode = opts.mode ?? 'unpack';
  const sys = opts.sys ?? linuxSys;
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`tsrun bundle: warning: ${m}\n`));
  const progress = opts.progress ?? Progress.forStderr();
  const dest = resolve(opts.dest);
  const image = openImage(opts.image, opts.tag);

  let madeDest = false;
  if (existsSync(dest)) {
    if (!statSync(dest).isDirectory()) throw new BundleError(`bundle ${dest}: exists and is not a directory`);
    if (readdirSync(dest).length) throw new BundleError(`bundle ${dest}: directory is not empty`);
  } else {
    mkdirSync(dest, { recursive: true, mode: 0o711 });
    madeDest = true;
  }
  const rootfs = join(dest, 'rootfs');
  try {
    mkdirSync(rootfs, { mode: 0o755 });
    progress.start(image.layers.length, image.layers.reduce((n, l) => n + l.blob.size, 0));
    let unpacked = 0;
    let readRootfsFile: (p: string) => Buffer | null;
    if (mode === 'unpack') {
      const dirs = new DirCache();
      const privileged = sys.geteuid() === 0;
      for (const [i, layer] of image.layers.entries()) {
        const name = shortDigest(layer.digest ?? layer.diffId);
        progress.layerStart(i, name, layer.blob.size, false);
        const applier = new LayerApplier({ root: rootfs, mode: 'flat', layer: name, privileged, sys, warn, dirs });
        await unpackLayer(layer, applier, { onBytes: (n) => progress.bytes(n) });
        unpacked++;
      }
      const tree = new DirTree(rootfs);
      readRootfsFile = (p) => tree.readFile(p);
    } else {
      const cacheRoot = resolve(cacheRootFor(opts.cacheRoot));
      const cached = await ensureLayers(image.layers, {
        cacheRoot, sys, warn,
        onLayerStart: (i, layer, hit) => progress.layerStart(i, shortDigest(layer.digest ?? layer.diffId), layer.blob.size, hit),
        onBytes: (_i, n) => progress.bytes(n),
      });
      unpacked = cached.filter((c) => c.unpacked).length;
      const file: LayersFile = {
        version: 1,
        cacheRoot,
        image: { source: resolve(image.source), ref: image.ref, manifestDigest: image.manifestDigest, configDigest: image.configDigest },
        layers: cached.map((c) => ({ diffId: c.meta.diffId, key: c.meta.key, dir: c.diff })),
      };
      writeFileSync(join(dest, LAYERS_FILE), `${JSON.stringify(file, null, 2)}\n`);
      const view = new MergedView(cached.map(stackLayerOf).reverse());
      readRootfsFile = (p) => view.readFile(p);
    }
    const annotations: Record<string, string> = {};
    if (image.ref) annotations['org.opencontainers.image.ref.name'] = image.ref;
    if (image.manifestDigest) annotations['org.opencontainers.image.manifest.digest'] = image.manifestDigest;
    if (image.configDigest) annotations['org.opencontainers.image.config.digest'] = image.configDigest;
    const spec = specFromImage(image.config, { readRootfsFile, warn, annotations });
    writeFileSync(join(dest, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
    progress.finish();
    return { dest, mode, image, layers: image.layers.length, unpackedLayers: unpacked };
  } catch (err) {
    progress.finish();
    if (madeDest) rmSync(dest, { recursive: true, force: true });
    else for (const name of readdirSync(dest)) rmSync(join(dest, name), { recursive: true, force: true });
    throw err;
  }
}
