// What an overlay bundle records for the runtime (<bundle>/tsrun-layers.json) and where the layer
// cache lives. Kept apart so `tsrun create` loads only this and rootfs.ts, not the unpacker.

export const LAYERS_FILE = 'tsrun-layers.json';
export const DEFAULT_CACHE_ROOT = '/var/lib/tsrun';

/** --cache DIR, else $TSRUN_LAYER_CACHE, else /var/lib/tsrun. */
export function cacheRootFor(override?: string): string {
  return override || process.env.TSRUN_LAYER_CACHE || DEFAULT_CACHE_ROOT;
}

export interface LayersFile {
  version: 1;
  cacheRoot: string;
  image: { source: string; ref: string | null; manifestDigest: string | null; configDigest: string | null };
  /** Bottom to top. `key` names the cache entry (diff id, or chain id when it depends on lower layers). */
  layers: { diffId: string; key: string; dir: string }[];
}
