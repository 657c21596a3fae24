// Finding an image in what the user brings: an OCI image layout directory, an OCI archive (a tar
// of a layout) or a `docker save` tar. Archives are not unpacked: their member offsets are indexed
// once and blobs are read in place. JSON blobs (index, manifest, config) are verified against their
// digests before use; layer blobs are verified while they stream (see unpack.ts).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DigestMismatchError, ImageError } from './errors.js';
import { cleanEntryPath } from './paths.js';
import { parsePax, readNumber } from './tar-reader.js';

/** Where a blob's bytes are: a whole file or a member of an archive. */
export interface BlobLocation {
  file: string;
  offset: number;
  size: number;
  /** For messages: "blobs/sha256/ab12..." or "<archive>:blobs/sha256/ab12...". */
  name: string;
}

export interface ImageLayer {
  blob: BlobLocation;
  /** Digest of the blob as stored (compressed), when the source names one. */
  digest: string | null;
  /** Digest of the uncompressed tar (config rootfs.diff_ids). */
  diffId: string;
  mediaType: string;
}

export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, unknown>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, unknown>;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
}

export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  created?: string;
  author?: string;
  config?: ImageConfig;
  rootfs?: { type: string; diff_ids: string[] };
}

export interface ResolvedImage {
  source: string;
  format: 'oci-layout' | 'oci-archive' | 'docker-archive';
  /** The name the image was selected by (a ref name / repo tag), if any. */
  ref: string | null;
  manifestDigest: string | null;
  configDigest: string | null;
  config: ImageConfigFile;
  layers: ImageLayer[];
}

const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
};
const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

/** A set of named files: a directory, or the members of a tar archive. */
interface FileSet {
  get(path: string): BlobLocation | null;
}

class DirFiles implements FileSet {
  constructor(private readonly dir: string) {}
  get(path: string): BlobLocation | null {
    const rel = cleanEntryPath(path);
    if (rel === null || rel === '') return null;
    const file = join(this.dir, rel);
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) return null;
    return { file, offset: 0, size: st.size, name: rel };
  }
}

class ArchiveFiles implements FileSet {
  constructor(private readonly archive: string, private readonly members: Map<string, { offset: number; size: number }>) {}
  get(path: string): BlobLocation | null {
    const rel = cleanEntryPath(path);
    const m = rel ? this.members.get(rel) : undefined;
    return m ? { file: this.archive, offset: m.offset, size: m.size, name: `${this.archive}:${rel}` } : null;
  }
}

/** Regular-file members of a plain tar, by cleaned name (a later member wins, as in extraction). */
export function indexTarMembers(archive: string): Map<string, { offset: number; size: number }> {
  const fd = openSync(archive, 'r');
  try {
    const total = statSync(archive).size;
    const members = new Map<string, { offset: number; size: number }>();
    const block = Buffer.alloc(512);
    let pos = 0;
    let longName: string | null = null;
    let paxPath: string | null = null;
    let paxSize: number | null = null;
    while (pos + 512 <= total) {
      readAt(fd, block, pos);
      if (block.every((b) => b === 0)) break;
      if (pos === 0 && (block[0] === 0x1f && block[1] === 0x8b)) {
        throw new ImageError(`${archive}: is gzip-compressed; give the uncompressed tar (e.g. gunzip it first)`);
      }
      const magic = block.toString('latin1', 257, 262);
      if (magic !== 'ustar') throw new ImageError(`${archive}: not a tar archive (no ustar header at byte ${pos})`);
      const type = block[156];
      let size = readNumber(block, 124, 12);
      const dataOffset = pos + 512;
      if (type === 0x78 || type === 0x4c) {
        const data = Buffer.alloc(size);
        readAt(fd, data, dataOffset);
        if (type === 0x4c) longName = data.toString('utf8').replace(/\0.*$/s, '');
        else {
          for (const [k, v] of parsePax(data)) {
            if (k === 'path') paxPath = v.toString('utf8');
            if (k === 'size') paxSize = Number(v.toString('latin1'));
          }
        }
      } else {
        if (paxSize !== null) size = paxSize;
        let name = block.toString('utf8', 0, 100).replace(/\0.*$/s, '');
        const prefix = block.toString('utf8', 345, 500).replace(/\0.*$/s, '');
        if (block.toString('latin1', 257, 263) === 'ustar\0' && prefix) name = `${prefix}/${name}`;
        name = paxPath ?? longName ?? name;
        const rel = cleanEntryPath(name);
        if ((type === 0 || type === 0x30 || type === 0x37) && rel) members.set(rel, { offset: dataOffset, size });
        longName = paxPath = null;
        paxSize = null;
      }
      pos = dataOffset + Math.ceil(size / 512) * 512;
    }
    return members;
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, buf: Buffer, pos: number): void {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, pos + got);
    if (n === 0) throw new ImageError('archive truncated');
    got += n;
  }
}

export function readBlob(loc: BlobLocation): Buffer {
  const buf = Buffer.alloc(loc.size);
  const fd = openSync(loc.file, 'r');
  try {
    readAt(fd, buf, loc.offset);
  } finally {
    closeSync(fd);
  }
  return buf;
}

const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

export function parseDigest(digest: string, what: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  const m = DIGEST_RE.exec(digest);
  const want = m?.[1] === 'sha256' ? 64 : 128;
  if (!m || m[2].length !== want) throw new ImageError(`${what}: unsupported or malformed digest "${digest}"`);
  return { algorithm: m[1] as 'sha256' | 'sha512', hex: m[2] };
}

function blobPath(digest: string, what: string): string {
  const { algorithm, hex } = parseDigest(digest, what);
  return `blobs/${algorithm}/${hex}`;
}

function digestOf(data: Buffer, algorithm: string): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Read a JSON blob by descriptor, checking size and digest. */
function readVerifiedJson<T>(files: FileSet, desc: Descriptor, what: string): T {
  const path = blobPath(desc.digest, what);
  const loc = files.get(path);
  if (!loc) throw new ImageError(`${what} ${desc.digest}: blob missing (${path})`);
  const data = readBlob(loc);
  const actual = digestOf(data, parseDigest(desc.digest, what).algorithm);
  if (actual !== desc.digest) throw new DigestMismatchError(`${what} blob ${loc.name}`, desc.digest, actual);
  if (typeof desc.size === 'number' && desc.size !== data.length) {
    throw new ImageError(`${what} blob ${loc.name}: size ${data.length}, descriptor says ${desc.size}`);
  }
  return parseJson<T>(data, `${what} ${loc.name}`);
}

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (e) {
    throw new ImageError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

function hostArchitecture(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** `SRC` may also be "DIR:TAG" (as umoci takes it) when SRC itself does not exist. */
export function splitSourceAndTag(src: string, tag?: string): { path: string; tag?: string } {
  if (existsSync(src)) return { path: src, tag };
  const i = src.lastIndexOf(':');
  if (i > 0 && !src.slice(i + 1).includes('/') && existsSync(src.slice(0, i))) {
    const fromSrc = src.slice(i + 1);
    if (tag !== undefined && tag !== fromSrc) throw new ImageError(`--image ${src} and --tag ${tag} name different tags`);
    return { path: src.slice(0, i), tag: fromSrc };
  }
  throw new ImageError(`image source ${src}: no such file or directory`);
}

export function openImage(src: string, tagArg?: string): ResolvedImage {
  const { path, tag } = splitSourceAndTag(src, tagArg);
  const st = statSync(path);
  if (st.isDirectory()) {
    const files = new DirFiles(path);
    if (!files.get('oci-layout')) throw new ImageError(`${path}: not an OCI image layout (no oci-layout file)`);
    return resolveOci(files, path, 'oci-layout', tag);
  }
  const files = new ArchiveFiles(path, indexTarMembers(path));
  if (files.get('oci-layout') && files.get('index.json')) return resolveOci(files, path, 'oci-archive', tag);
  if (files.get('manifest.json')) return resolveDocker(files, path, tag);
  throw new ImageError(`${path}: neither an OCI archive (oci-layout, index.json) nor a docker save archive (manifest.json)`);
}

function resolveOci(files: FileSet, source: string, format: 'oci-layout' | 'oci-archive', tag?: string): ResolvedImage {
  const layoutFile = files.get('oci-layout')!;
  const layout = parseJson<{ imageLayoutVersion?: string }>(readBlob(layoutFile), `${source}: oci-layout`);
  if (!layout.imageLayoutVersion?.startsWith('1.')) {
    throw new ImageError(`${source}: unsupported imageLayoutVersion ${JSON.stringify(layout.imageLayoutVersion)}`);
  }
  const indexLoc = files.get('index.json');
  if (!indexLoc) throw new ImageError(`${source}: index.json missing`);
  const index = parseJson<{ manifests?: Descriptor[] }>(readBlob(indexLoc), `${source}: index.json`);
  const manifests = index.manifests ?? [];
  const refOf = (d: Descriptor) => d.annotations?.[REF_NAME] ?? null;
  let chosen: Descriptor | undefined;
  if (tag !== undefined) {
    chosen = manifests.find((d) => refOf(d) === tag)
      ?? manifests.find((d) => d.annotations?.[CONTAINERD_NAME] === tag || d.annotations?.[CONTAINERD_NAME]?.endsWith(`:${tag}`));
  } else if (manifests.length === 1) {
    chosen = manifests[0];
  } else {
    chosen = manifests.find((d) => refOf(d) === 'latest');
  }
  if (!chosen) {
    const names = manifests.map(refOf).filter(Boolean).join(', ') || 'none';
    throw new ImageError(tag !== undefined
      ? `${source}: no image tagged "${tag}" (tags: ${names})`
      : `${source}: holds ${manifests.length} images; choose one with --tag (tags: ${names})`);
  }
  let manifestDesc = chosen;
  for (let depth = 0; ; depth++) {
    const mt = manifestDesc.mediaType;
    if (mt !== MT.ociIndex && mt !== MT.dockerList) break;
    if (depth > 4) throw new ImageError(`${source}: image indexes nested too deep`);
    const inner = readVerifiedJson<{ manifests?: Descriptor[] }>(files, manifestDesc, 'image index');
    const arch = hostArchitecture();
    const pick = (inner.manifests ?? []).find((d) => d.platform?.os === 'linux' && d.platform?.architecture === arch);
    if (!pick) throw new ImageError(`${source}: image index ${manifestDesc.digest} has no linux/${arch} image`);
    manifestDesc = pick;
  }
  const manifest = readVerifiedJson<{ mediaType?: string; config?: Descriptor; layers?: Descriptor[] }>(files, manifestDesc, 'image manifest');
  if (!manifest.config) throw new ImageError(`${source}: manifest ${manifestDesc.digest} has no config`);
  const config = readVerifiedJson<ImageConfigFile>(files, manifest.config, 'image config');
  const layerDescs = manifest.layers ?? [];
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerDescs.length) {
    throw new ImageError(`${source}: config ${manifest.config.digest} lists ${diffIds.length} diff_ids for ${layerDescs.length} layers`);
  }
  const layers = layerDescs.map((d, i): ImageLayer => {
    const path = blobPath(d.digest, 'layer');
    const blob = files.get(path);
    if (!blob) throw new ImageError(`${source}: layer ${d.digest} missing (${path})`);
    if (typeof d.size === 'number' && blob.size !== d.size) {
      throw new ImageError(`layer blob ${blob.name}: size ${blob.size}, descriptor says ${d.size}`);
    }
    parseDigest(diffIds[i], `config diff_ids[${i}]`);
    return { blob, digest: d.digest, diffId: diffIds[i], mediaType: d.mediaType ?? '' };
  });
  return {
    source, format, ref: refOf(chosen) ?? tag ?? null, manifestDigest: manifestDesc.digest,
    configDigest: manifest.config.digest, config, layers,
  };
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** "docker.io/library/busybox:latest", "busybox:latest" and "busybox" name the same image. */
function normalizeRepoTag(ref: string): string {
  let r = ref.replace(/^docker\.io\//, '').replace(/^library\//, '');
  if (!/:[^/]+$/.test(r)) r += ':latest';
  return r;
}

function resolveDocker(files: FileSet, source: string, tag?: string): ResolvedImage {
  const entries = parseJson<DockerManifestEntry[]>(readBlob(files.get('manifest.json')!), `${source}: manifest.json`);
  if (!Array.isArray(entries) || entries.length === 0) throw new ImageError(`${source}: manifest.json lists no images`);
  let chosen: DockerManifestEntry | undefined;
  let ref: string | null = null;
  if (tag !== undefined) {
    for (const e of entries) {
      const want = normalizeRepoTag(tag);
      const hit = (e.RepoTags ?? []).find((t) => normalizeRepoTag(t) === want || t.endsWith(`:${tag}`));
      if (hit) {
        chosen = e;
        ref = hit;
        break;
      }
    }
  } else if (entries.length === 1) {
    chosen = entries[0];
    ref = chosen.RepoTags?.[0] ?? null;
  }
  if (!chosen) {
    const names = entries.flatMap((e) => e.RepoTags ?? []).join(', ') || 'none';
    throw new ImageError(tag !== undefined
      ? `${source}: no image tagged "${tag}" (tags: ${names})`
      : `${source}: holds ${entries.length} images; choose one with --tag (tags: ${names})`);
  }
  const configLoc = files.get(chosen.Config);
  if (!configLoc) throw new ImageError(`${source}: config ${chosen.Config} missing`);
  const configData = readBlob(configLoc);
  // Its name is its digest ("<hex>.json", or "blobs/sha256/<hex>" in newer docker save).
  const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(chosen.Config);
  const configDigest = digestOf(configData, 'sha256');
  if (named && configDigest !== `sha256:${named[1]}`) {
    throw new DigestMismatchError(`image config ${configLoc.name}`, `sha256:${named[1]}`, configDigest);
  }
  const config = parseJson<ImageConfigFile>(configData, `image config ${configLoc.name}`);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== chosen.Layers.length) {
    throw new ImageError(`${source}: config lists ${diffIds.length} diff_ids for ${chosen.Layers.length} layers`);
  }
  const layers = chosen.Layers.map((p, i): ImageLayer => {
    const blob = files.get(p);
    if (!blob) throw new ImageError(`${source}: layer ${p} missing`);
    parseDigest(diffIds[i], `config diff_ids[${i}]`);
    const blobDigest = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(p);
    return { blob, digest: blobDigest ? `sha256:${blobDigest[1]}` : null, diffId: diffIds[i], mediaType: '' };
  });
  return { source, format: 'docker-archive', ref, manifestDigest: null, configDigest, config, layers };
}
