// The digest-keyed cache of unpacked layers for overlay bundles:
//
//   <cache>/layers/sha256/<hex>/diff/        the layer, unpacked the overlayfs way (a lowerdir)
//   <cache>/layers/sha256/<hex>/layer.json   what the diff dir cannot say (opaque dirs, keys)
//   <cache>/containers/<id>/{upper,work}     per-container writable layer (rootfs.ts)
//   <cache>/l/<short>                        short symlinks to diff dirs, for long lowerdir lists
//
// <hex> is the layer's diff id (digest of the uncompressed tar) when the unpacked dir depends on
// that layer alone — the usual case, shared by every image that has the layer. A layer whose
// unpacked form depends on the layers below it (a hard link to a lower file is copied up; a missing
// parent dir takes the attributes it has below) is keyed by its chain id instead, as containerd's
// snapshots are. A layer is unpacked into a temp dir beside its final place and renamed in, so
// concurrent creators never see a half-written layer; the loser of a rename race drops its copy.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sys } from '../runtime/sys/sys.js';
import { BundleError } from './errors.js';
import type { ImageLayer } from './image-source.js';
import { parseDigest } from './image-source.js';
import { LayerApplier } from './layer-apply.js';
import type { StackLayer } from './merged-view.js';
import { shortDigest, unpackLayer } from './unpack.js';

export interface LayerMeta {
  version: 1;
  diffId: string;
  chainId: string;
  /** Which of the two the dir is keyed by. */
  key: string;
  dependsOnLower: boolean;
  opaque: string[];
  entries: number;
}

export interface CachedLayer {
  /** The unpacked layer (a lowerdir). */
  diff: string;
  meta: LayerMeta;
  /** True when this call unpacked it; false when it was in the cache already. */
  unpacked: boolean;
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    out.push(out.length === 0 ? d : `sha256:${createHash('sha256').update(`${out[out.length - 1]} ${d}`).digest('hex')}`);
  }
  return out;
}

function keyDir(cacheRoot: string, digest: string): string {
  const { algorithm, hex } = parseDigest(digest, 'layer');
  return join(cacheRoot, 'layers', algorithm, hex);
}

function readMeta(dir: string): LayerMeta | null {
  try {
    const meta = JSON.parse(readFileSync(join(dir, 'layer.json'), 'utf8')) as LayerMeta;
    return meta.version === 1 && existsSync(join(dir, 'diff')) ? meta : null;
  } catch {
    return null;
  }
}

export function stackLayerOf(layer: CachedLayer): StackLayer {
  return { dir: layer.diff, opaque: new Set(layer.meta.opaque) };
}

export interface EnsureOptions {
  cacheRoot: string;
  sys: Sys;
  warn: (message: string) => void;
  /** Called before each layer is unpacked (index, layer) and with the stored bytes read so far. */
  onLayerStart?: (index: number, layer: ImageLayer, cached: boolean) => void;
  onBytes?: (index: number, bytes: number) => void;
}

/** Make sure every layer is in the cache (bottom to top); returns their dirs bottom to top. */
export async function ensureLayers(layers: ImageLayer[], opts: EnsureOptions): Promise<CachedLayer[]> {
  if (process.geteuid?.() !== 0) {
    throw new BundleError('--overlay needs root (whiteouts are char devices and opaque dirs trusted.* xattrs); use --unpack');
  }
  const chains = chainIds(layers.map((l) => l.diffId));
  const done: CachedLayer[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const byDiff = keyDir(opts.cacheRoot, layer.diffId);
    const byChain = keyDir(opts.cacheRoot, chains[i]);
    let found: string | null = null;
    for (const dir of [byDiff, byChain]) {
      const meta = readMeta(dir);
      if (meta && (!meta.dependsOnLower || dir === byChain)) {
        done.push({ diff: join(dir, 'diff'), meta, unpacked: false });
        found = dir;
        break;
      }
    }
    opts.onLayerStart?.(i, layer, found !== null);
    if (found) continue;
    done.push(await unpackIntoCache(layer, chains[i], done, opts, i));
  }
  return done;
}

async function unpackIntoCache(layer: ImageLayer, chainId: string, below: CachedLayer[], opts: EnsureOptions, index: number): Promise<CachedLayer> {
  const parent = join(opts.cacheRoot, 'layers', parseDigest(layer.diffId, 'layer').algorithm);
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const tmp = join(parent, `.tmp-${parseDigest(layer.diffId, 'layer').hex.slice(0, 12)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const diff = join(tmp, 'diff');
  mkdirSync(diff, { recursive: true, mode: 0o755 });
  try {
    const applier = new LayerApplier({
      root: diff,
      mode: 'overlay',
      layer: shortDigest(layer.digest ?? layer.diffId),
      privileged: true,
      sys: opts.sys,
      warn: opts.warn,
      lower: below.map(stackLayerOf).reverse(),
    });
    // The dir is keyed by the diff id: it must be checked, or a lying config could poison the cache.
    await unpackLayer(layer, applier, { verifyDiffId: true, onBytes: (n) => opts.onBytes?.(index, n) });
    const key = applier.dependsOnLower ? chainId : layer.diffId;
    const meta: LayerMeta = {
      version: 1, diffId: layer.diffId, chainId, key, dependsOnLower: applier.dependsOnLower,
      opaque: [...applier.opaque].sort(), entries: applier.entries,
    };
    writeFileSync(join(tmp, 'layer.json'), `${JSON.stringify(meta, null, 2)}\n`);
    const final = keyDir(opts.cacheRoot, key);
    try {
      renameSync(tmp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      // Another creator put the same layer there first: theirs is as good as ours.
      rmSync(tmp, { recursive: true, force: true });
      const theirs = readMeta(final);
      if (!theirs) throw new BundleError(`layer cache ${final} exists but is incomplete; remove it`);
      return { diff: join(final, 'diff'), meta: theirs, unpacked: false };
    }
    return { diff: join(final, 'diff'), meta, unpacked: true };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
