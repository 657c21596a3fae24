// Streams one layer blob through decompression and the tar parser into a LayerApplier, checking
// the blob digest (as stored) and the diff id (uncompressed) on the way. A layer whose bytes do not
// match is an error naming the blob; the caller throws away what was written.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { DigestMismatchError, LayerError, UnsupportedLayerError } from './errors.js';
import type { ImageLayer } from './image-source.js';
import type { LayerApplier } from './layer-apply.js';
import { parseDigest } from './image-source.js';
import { TarFormatError, TarParser } from './tar-reader.js';

export type Compression = 'none' | 'gzip' | 'zstd';

/** Short name for messages: "sha256:0123456789ab". */
export function shortDigest(digest: string): string {
  return digest.slice(0, digest.indexOf(':') + 13);
}

/** Sniff the compression from the first bytes (media types lie in docker save archives). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

export function zstdAvailable(): boolean {
  return typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
}

function decompressor(kind: Compression, layerName: string): Transform | null {
  if (kind === 'gzip') return zlib.createGunzip({ chunkSize: 256 * 1024 });
  if (kind === 'zstd') {
    const make = (zlib as unknown as { createZstdDecompress?: (o?: object) => Transform }).createZstdDecompress;
    if (!make) {
      throw new UnsupportedLayerError(layerName, undefined,
        `is zstd-compressed, and this Node (${process.version}) has no zstd in zlib (needs Node >= 22.15 or >= 23.8)`);
    }
    return make({ chunkSize: 256 * 1024 });
  }
  return null;
}

function readHead(layer: ImageLayer): Buffer {
  const fd = openSync(layer.blob.file, 'r');
  try {
    const head = Buffer.alloc(Math.min(8, layer.blob.size));
    readSync(fd, head, 0, head.length, layer.blob.offset);
    return head;
  } finally {
    closeSync(fd);
  }
}

export interface UnpackStats {
  compression: Compression;
  compressedBytes: number;
  uncompressedBytes: number;
  entries: number;
}

function hashOf(digest: string, what: string): Hash {
  return createHash(parseDigest(digest, what).algorithm);
}

/** Apply one layer blob. */
export interface UnpackOptions {
  /** Check the uncompressed bytes against the diff id even when the blob digest was checked. */
  verifyDiffId?: boolean;
  /** Stored (compressed) bytes read so far. */
  onBytes?: (n: number) => void;
}

export async function unpackLayer(layer: ImageLayer, applier: LayerApplier, opts: UnpackOptions = {}): Promise<UnpackStats> {
  const onBytes = opts.onBytes;
  const name = shortDigest(layer.digest ?? layer.diffId);
  const compression = detectCompression(readHead(layer));
  if (layer.mediaType.includes('+encrypted')) throw new UnsupportedLayerError(name, undefined, `is encrypted (${layer.mediaType})`);
  const dec = decompressor(compression, name);
  const blobHash = layer.digest ? hashOf(layer.digest, `layer ${name}`) : null;
  // The diff id is checked when the cache will be keyed by it, or when nothing else vouches for the
  // bytes (docker save names no blob digest). A verified blob digest already pins the uncompressed
  // bytes for a flat unpack, and skipping the second hash saves a third of the CPU there.
  const needDiff = opts.verifyDiffId || !layer.digest;
  const diffHash = !needDiff || (compression === 'none' && layer.digest === layer.diffId) ? null : hashOf(layer.diffId, `layer ${name}`);
  let compressed = 0;
  let uncompressed = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      blobHash?.update(chunk);
      compressed += chunk.length;
      onBytes?.(compressed);
      done(null, chunk);
    },
  });
  const parser = new TarParser((entry) => applier.entry(entry));
  const sink = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      diffHash?.update(chunk);
      uncompressed += chunk.length;
      parser.push(chunk);
    }
    parser.end();
  };
  const src: Readable = createReadStream(layer.blob.file, {
    start: layer.blob.offset,
    end: layer.blob.offset + layer.blob.size - 1,
    highWaterMark: 1024 * 1024,
  });
  try {
    if (layer.blob.size === 0) throw new LayerError(name, undefined, `blob ${layer.blob.name} is empty`);
    if (dec) await pipeline(src, tap, dec, sink);
    else await pipeline(src, tap, sink);
  } catch (err) {
    if (err instanceof LayerError || err instanceof DigestMismatchError) throw err;
    if (err instanceof TarFormatError) throw new LayerError(name, undefined, `bad tar: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code?.startsWith('Z_')) throw new LayerError(name, undefined, `cannot decompress ${compression} blob ${layer.blob.name}: ${(err as Error).message}`);
    throw new LayerError(name, undefined, (err as Error).message);
  }
  if (blobHash) {
    const actual = `${parseDigest(layer.digest!, 'layer').algorithm}:${blobHash.digest('hex')}`;
    if (actual !== layer.digest) throw new DigestMismatchError(`layer blob ${layer.blob.name}`, layer.digest!, actual);
  }
  if (diffHash) {
    const diffActual = `${parseDigest(layer.diffId, 'layer').algorithm}:${diffHash.digest('hex')}`;
    if (diffActual !== layer.diffId) {
      throw new DigestMismatchError(`layer ${layer.blob.name} (uncompressed, diff_id)`, layer.diffId, diffActual);
    }
  }
  applier.finish();
  return { compression, compressedBytes: compressed, uncompressedBytes: uncompressed, entries: applier.entries };
}
