// Building small OCI image layouts in TypeScript (tar-stream for the layer tars), for the example
// bundles, the README demo and the tests.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import type { ImageConfig } from '../image-source.js';

export interface LayerEntry {
  name: string;
  type?: Header['type'];
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  /** Stored as PAX SCHILY.xattr.<name>. */
  xattrs?: Record<string, string>;
}

const EPOCH = new Date('2024-01-01T00:00:00Z');

/** An uncompressed layer tar from a list of entries, in order. */
export async function tarLayer(entries: LayerEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const finished = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? undefined : Buffer.from(e.data);
    const header: Header = {
      name: e.name,
      type,
      size: type === 'file' ? data?.length ?? 0 : 0,
      mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      uname: '',
      gname: '',
      mtime: e.mtime ?? EPOCH,
      linkname: e.linkname ?? '',
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
      pax: e.xattrs ? Object.fromEntries(Object.entries(e.xattrs).map(([k, v]) => [`SCHILY.xattr.${k}`, v])) : null,
    };
    await new Promise<void>((resolve, reject) => {
      if (type === 'file') p.entry(header, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      else p.entry(header, (err) => (err ? reject(err) : resolve())).end(undefined as never);
    });
  }
  p.finalize();
  await finished;
  return Buffer.concat(chunks);
}

export type LayerCompression = 'none' | 'gzip' | 'zstd';

export interface ImageSpec {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  compression?: LayerCompression | LayerCompression[];
  config?: ImageConfig;
  /** org.opencontainers.image.ref.name in index.json. */
  tag?: string;
  architecture?: string;
}

export interface BuiltImage {
  dir: string;
  tag: string;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
  diffIds: string[];
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function compress(tar: Buffer, how: LayerCompression): Buffer {
  if (how === 'gzip') return gzipSync(tar, { level: 1 });
  if (how === 'zstd') return execFileSync('zstd', ['-q', '-c', '-1'], { input: tar, maxBuffer: 1 << 30 });
  return tar;
}

const LAYER_MEDIA: Record<LayerCompression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** Write (or add to) an OCI image layout at `dir`; returns the digests. */
export function writeOciLayout(dir: string, image: ImageSpec): BuiltImage {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer): string => {
    const d = sha256(data);
    writeFileSync(join(blobs, d.slice(7)), data);
    return d;
  };
  const tag = image.tag ?? 'latest';
  const layerDescs = image.layers.map((tar, i) => {
    const how = Array.isArray(image.compression) ? image.compression[i] ?? 'gzip' : image.compression ?? 'gzip';
    const blob = compress(tar, how);
    return { mediaType: LAYER_MEDIA[how], digest: put(blob), size: blob.length };
  });
  const diffIds = image.layers.map(sha256);
  const config = Buffer.from(JSON.stringify({
    created: EPOCH.toISOString(),
    architecture: image.architecture ?? goArch(),
    os: 'linux',
    config: image.config ?? {},
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: image.layers.map(() => ({ created: EPOCH.toISOString(), created_by: 'tsrun examples' })),
  }));
  const configDigest = put(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: layerDescs,
  }));
  const manifestDigest = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  let index: { schemaVersion: number; manifests: { annotations?: Record<string, string> }[] } = { schemaVersion: 2, manifests: [] };
  if (existsSync(join(dir, 'index.json'))) index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  } as never);
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { dir, tag, manifestDigest, configDigest, layerDigests: layerDescs.map((d) => d.digest), diffIds };
}
