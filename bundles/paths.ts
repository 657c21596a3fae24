// Path helpers for layer entries: names are cleaned to a relative path below the rootfs, and a path
// that climbs above it with ".." is refused (absolute names are taken as relative, as tar does).

/** Clean a tar entry name to "a/b/c" ('' for the root). Returns null when ".." climbs above the root. */
export function cleanEntryPath(name: string): string | null {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

export function absOf(root: string, rel: string): string {
  return rel === '' ? root : `${root}/${rel}`;
}

export const MAX_SYMLINK_HOPS = 40;

/** What a read-only resolver needs to know about a tree (a directory, or a stack of layers). */
export interface TreeReader {
  /** lstat of `rel` (no symlink followed anywhere: `rel`'s parents are known real dirs). */
  kind(rel: string): 'dir' | 'symlink' | 'other' | null;
  readlink(rel: string): string;
}

/**
 * Resolve `rel` inside a tree as if the tree were "/": symlinks (absolute or relative) are followed
 * but never leave it, ".." stops at its top. With followLast false the last component is not
 * followed. Returns the real relative path, or null when some component is missing or not a dir.
 */
export function resolveInTree(tree: TreeReader, rel: string, followLast = true): string | null {
  const queue = rel.split('/').filter((p) => p !== '' && p !== '.');
  let cur = '';
  let hops = 0;
  while (queue.length) {
    const part = queue.shift()!;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      cur = parentOf(cur);
      continue;
    }
    const next = joinRel(cur, part);
    const kind = tree.kind(next);
    if (kind === null) return null;
    const last = queue.length === 0;
    if (kind === 'symlink' && (!last || followLast)) {
      if (++hops > MAX_SYMLINK_HOPS) return null;
      const target = tree.readlink(next);
      if (target.startsWith('/')) cur = '';
      queue.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    if (!last && kind !== 'dir') return null;
    cur = next;
  }
  return cur;
}
