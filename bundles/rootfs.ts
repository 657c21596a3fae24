// The runtime's side of overlay bundles. At `tsrun create`, in the normal tsrun process,
// prepareRootfs makes the container's writable layer and returns the overlay mount for the runtime
// to do inside the container's mount namespace (so no mount shows on the host); at delete,
// releaseRootfs removes the writable layer.
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { BundleError } from './errors.js';
import { cacheRootFor, LAYERS_FILE, type LayersFile } from './layers-file.js';

export interface OverlayRootfsPlan {
  type: 'overlay';
  source: 'overlay';
  target: string;
  fstype: 'overlay';
  data: string;
  /** Removed by releaseRootfs (the container's upper and work dirs). */
  cleanupDirs: string[];
}

/** mount(2) copies at most one page of data, NUL included. */
export const MOUNT_DATA_MAX = 4095;
const RECORD = 'tsrun-rootfs.json';
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]*$/;

function checkId(id: string): void {
  if (!ID_RE.test(id) || id.length > 1024) throw new BundleError(`container id "${id}" cannot name a layer directory`);
}

function checkOptionPath(p: string, what: string): void {
  if (/[,:\\\n]/.test(p)) throw new BundleError(`${what} ${p}: overlay mount options cannot hold ",", ":" or "\\" in a path`);
}

export function readLayersFile(bundleDir: string): LayersFile | null {
  const file = join(bundleDir, LAYERS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let parsed: LayersFile;
  try {
    parsed = JSON.parse(text) as LayersFile;
  } catch (e) {
    throw new BundleError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.layers) || parsed.layers.length === 0 || typeof parsed.cacheRoot !== 'string') {
    throw new BundleError(`${file}: not a tsrun layers file (version 1 with cacheRoot and layers)`);
  }
  return parsed;
}

/** "lowerdir=TOP:...:BOTTOM,upperdir=U,workdir=W" — throws when it cannot fit in a page. */
export function overlayData(lowersTopFirst: string[], upper: string, work: string): string {
  return `lowerdir=${lowersTopFirst.join(':')},upperdir=${upper},workdir=${work}`;
}

/** A short, stable symlink <cacheRoot>/l/<12 hex> -> the layer dir (docker's overlay2 "l" trick). */
function shortLink(cacheRoot: string, key: string, target: string): string {
  const dir = join(cacheRoot, 'l');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hex = key.slice(key.indexOf(':') + 1);
  for (let len = 12; len <= hex.length; len += 4) {
    const link = join(dir, hex.slice(0, len));
    const st = lstatSync(link, { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && readlinkSync(link) === target) return link;
    if (st) continue; // a prefix collision (or junk): try a longer name
    const tmp = `${link}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp);
    renameSync(tmp, link);
    return link;
  }
  throw new BundleError(`cannot make a short link for layer ${key} under ${dir}`);
}

export async function prepareRootfs(bundleDir: string, rootfsPath: string, containerId: string, stateDir: string): Promise<OverlayRootfsPlan | null> {
  const layers = readLayersFile(bundleDir);
  if (!layers) return null;
  checkId(containerId);
  for (const l of layers.layers) {
    if (!existsSync(l.dir)) {
      throw new BundleError(`bundle ${bundleDir}: layer ${l.diffId} is not in the cache (${l.dir} missing); run "tsrun bundle create" again`);
    }
  }
  const containerDir = join(layers.cacheRoot, 'containers', containerId);
  const upper = join(containerDir, 'upper');
  const work = join(containerDir, 'work');
  checkOptionPath(upper, 'upper dir');
  rmSync(containerDir, { recursive: true, force: true }); // a leftover of a container that was never deleted
  mkdirSync(upper, { recursive: true, mode: 0o755 });
  mkdirSync(work, { mode: 0o700 });
  try {
    // The merged root takes the upper dir's attributes: give it the image's.
    const top = lstatSync(layers.layers[layers.layers.length - 1].dir);
    chownSync(upper, top.uid, top.gid);
    chmodSync(upper, top.mode & 0o7777);
    if (existsSync(stateDir)) writeFileSync(join(stateDir, RECORD), `${JSON.stringify({ containerDir })}\n`);
    mkdirSync(rootfsPath, { recursive: true, mode: 0o755 });

    const topFirst = [...layers.layers].reverse();
    for (const l of topFirst) checkOptionPath(l.dir, 'layer dir');
    let data = overlayData(topFirst.map((l) => l.dir), upper, work);
    if (data.length > MOUNT_DATA_MAX) {
      data = overlayData(topFirst.map((l) => shortLink(layers.cacheRoot, l.key, l.dir)), upper, work);
    }
    if (data.length > MOUNT_DATA_MAX) {
      throw new BundleError(`bundle ${bundleDir}: ${layers.layers.length} layers make overlay mount options of ${data.length} bytes, over the ${MOUNT_DATA_MAX}-byte limit (use a shorter cache path, or --unpack)`);
    }
    return { type: 'overlay', source: 'overlay', target: rootfsPath, fstype: 'overlay', data, cleanupDirs: [containerDir] };
  } catch (err) {
    rmSync(containerDir, { recursive: true, force: true });
    throw err;
  }
}

export async function releaseRootfs(containerId: string, stateDir: string): Promise<void> {
  let containerDir: string | undefined;
  try {
    containerDir = (JSON.parse(readFileSync(join(stateDir, RECORD), 'utf8')) as { containerDir?: string }).containerDir;
  } catch {
    // no record (or unreadable): fall back to the default place
  }
  if (!containerDir) {
    checkId(containerId);
    containerDir = join(cacheRootFor(), 'containers', containerId);
  }
  rmSync(containerDir, { recursive: true, force: true });
  rmSync(join(stateDir, RECORD), { force: true });
}
