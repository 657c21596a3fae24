// A read-only view of a stack of unpacked overlay layer dirs, as overlayfs would merge them:
// the topmost layer holding a name wins, a whiteout (char device 0:0) hides it and everything
// below, an opaque dir hides the same dir in the layers below, a non-dir hides a dir below.
// Used while unpacking a layer on top of cached ones (hard links to lower files, implicit parent
// dirs) and to read /etc/passwd of an overlay bundle without mounting it.
import { lstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { absOf, resolveInTree, type TreeReader } from './paths.js';

export interface StackLayer {
  /** The dir that becomes a lowerdir. */
  dir: string;
  /** Relative paths of its opaque dirs (those with trusted.overlay.opaque=y). */
  opaque: Set<string>;
}

export function isWhiteoutStat(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export class MergedView implements TreeReader {
  /** Layers top first. */
  constructor(private readonly layers: StackLayer[]) {}

  /** The entry visible at `rel` (no symlink followed), with the layer it comes from. */
  lookup(rel: string): { layer: StackLayer; abs: string; st: Stats } | null {
    if (rel === '') {
      const top = this.layers[0];
      return top ? { layer: top, abs: top.dir, st: lstatSync(top.dir) } : null;
    }
    const parts = rel.split('/');
    let candidates = this.layers;
    let prefix = '';
    for (let i = 0; i < parts.length; i++) {
      prefix = prefix ? `${prefix}/${parts[i]}` : parts[i];
      const last = i === parts.length - 1;
      const next: StackLayer[] = [];
      for (const layer of candidates) {
        const abs = absOf(layer.dir, prefix);
        const st = lstatSync(abs, { throwIfNoEntry: false });
        if (!st) continue;
        if (isWhiteoutStat(st)) break;
        if (last) return { layer, abs, st };
        if (!st.isDirectory()) break;
        next.push(layer);
        if (layer.opaque.has(prefix)) break;
      }
      if (next.length === 0) return null;
      candidates = next;
    }
    return null;
  }

  kind(rel: string): 'dir' | 'symlink' | 'other' | null {
    const hit = this.lookup(rel);
    if (!hit) return null;
    return hit.st.isDirectory() ? 'dir' : hit.st.isSymbolicLink() ? 'symlink' : 'other';
  }

  readlink(rel: string): string {
    const hit = this.lookup(rel);
    if (!hit) throw Object.assign(new Error(`no such entry ${rel}`), { code: 'ENOENT' });
    return readlinkSync(hit.abs);
  }

  /** Read a file as the container would see it (symlinks followed inside the view); null when absent. */
  readFile(rel: string): Buffer | null {
    const real = resolveInTree(this, rel, true);
    if (real === null) return null;
    const hit = this.lookup(real);
    if (!hit || !hit.st.isFile()) return null;
    return readFileSync(hit.abs);
  }
}

/** The same reader over one plain directory tree (an --unpack rootfs). */
export class DirTree implements TreeReader {
  constructor(private readonly root: string) {}
  kind(rel: string): 'dir' | 'symlink' | 'other' | null {
    const st = lstatSync(absOf(this.root, rel), { throwIfNoEntry: false });
    if (!st) return null;
    return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  }
  readlink(rel: string): string {
    return readlinkSync(absOf(this.root, rel));
  }
  readFile(rel: string): Buffer | null {
    const real = resolveInTree(this, rel, true);
    if (real === null) return null;
    const st = lstatSync(absOf(this.root, real), { throwIfNoEntry: false });
    if (!st || !st.isFile()) return null;
    return readFileSync(absOf(this.root, real));
  }
}
