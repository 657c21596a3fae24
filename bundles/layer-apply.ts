// Applies the entries of one layer to a directory, safely.
//
// Two targets: 'flat' (the rootfs itself: whiteouts delete what lower layers put there) and
// 'overlay' (an empty per-layer dir that becomes an overlayfs lowerdir: whiteouts are stored the
// overlayfs way, a char device 0:0 for a deleted name and trusted.overlay.opaque=y for an opaque
// dir).
//
// Safety: every parent directory is resolved inside the root as if the root were "/" (a symlink
// in the image, absolute or relative, is followed but can never lead out), the final component is
// never followed (O_NOFOLLOW / O_EXCL / lchown / lutimes / link(2) which does not dereference),
// names and hard-link targets that climb out with ".." are refused. Directories known to be real
// are cached, so a deep tree costs one lstat per new directory rather than one per entry and level.
// Nothing else writes to the target while a layer is applied (it is a fresh dir of ours), which is
// what makes the lstat walk sound.
import {
  closeSync, copyFileSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeSync, chmodSync, utimesSync,
  constants as fsc, type Stats,
} from 'node:fs';
import type { Sys } from '../runtime/sys/sys.js';
import { S } from '../runtime/sys/constants.js';
import { LayerError } from './errors.js';
import { MergedView, type StackLayer } from './merged-view.js';
import { absOf, baseOf, cleanEntryPath, joinRel, MAX_SYMLINK_HOPS, parentOf, resolveInTree } from './paths.js';
import type { DataSink, TarEntry } from './tar-reader.js';

export type ApplyMode = 'flat' | 'overlay';

export interface ApplyOptions {
  /** Absolute path of the directory to write into. */
  root: string;
  mode: ApplyMode;
  /** Layer name for messages ("sha256:1234abcd..."). */
  layer: string;
  /** Running as root: chown, device nodes, trusted.* xattrs. */
  privileged: boolean;
  sys: Sys;
  warn: (message: string) => void;
  /** overlay mode: the layers below, top first (for hard links to lower files and implicit parents). */
  lower?: StackLayer[];
  /** flat mode: a cache of known directories shared by the layers applied to one rootfs. */
  dirs?: DirCache;
}

const OPAQUE_MARKER = '.wh..wh..opq';
const WHITEOUT_PREFIX = '.wh.';
const FILE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

/** Relative paths known to be real directories (not symlinks) below one root. */
export class DirCache {
  private readonly known = new Set<string>(['']);
  has(rel: string): boolean {
    return this.known.has(rel);
  }
  add(rel: string): void {
    this.known.add(rel);
  }
  /** Forget `rel` and everything below it (it was removed or replaced). */
  forget(rel: string): void {
    if (rel === '') return;
    this.known.delete(rel);
    const prefix = `${rel}/`;
    for (const k of this.known) if (k.startsWith(prefix)) this.known.delete(k);
  }
}

interface DeferredDir {
  abs: string;
  mode: number;
  mtime: number;
}

export class LayerApplier {
  private readonly root: string;
  private readonly dirs: DirCache;
  /** Real paths this layer wrote, and their ancestors: same-layer content is never whited out. */
  private readonly written = new Set<string>();
  private readonly writtenAncestors = new Set<string>();
  /** By path: a dir entry seen twice takes its last metadata. */
  private readonly deferred = new Map<string, DeferredDir>();
  /** overlay mode: opaque dirs of this layer (the layer's metadata file lists them). */
  readonly opaque = new Set<string>();
  /** overlay mode: the unpacked dir depends on the layers below (copied-up hard link targets or dir attributes). */
  dependsOnLower = false;
  entries = 0;
  private readonly lowerView: MergedView | null;
  private readonly stackView: MergedView | null;
  private currentEntry = '';

  constructor(private readonly opts: ApplyOptions) {
    this.root = opts.root;
    this.dirs = opts.dirs ?? new DirCache();
    if (opts.mode === 'overlay') {
      const lower = opts.lower ?? [];
      this.lowerView = new MergedView(lower);
      this.stackView = new MergedView([{ dir: opts.root, opaque: this.opaque }, ...lower]);
    } else {
      this.lowerView = null;
      this.stackView = null;
    }
  }

  /** TarParser callback. */
  entry(e: TarEntry): DataSink | null {
    this.currentEntry = e.name;
    this.entries++;
    try {
      return this.apply(e);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /** After the last entry: directory modes and mtimes (set last, since later entries change them). */
  finish(): void {
    this.currentEntry = '';
    try {
      for (const d of [...this.deferred.values()].reverse()) {
        chmodSync(d.abs, d.mode);
        utimesSync(d.abs, d.mtime, d.mtime);
      }
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private wrap(err: unknown): Error {
    if (err instanceof LayerError) return err;
    const msg = (err as Error).message ?? String(err);
    return new LayerError(this.opts.layer, this.currentEntry || undefined, msg.replaceAll(this.root, '<rootfs>'));
  }

  private fail(reason: string): never {
    throw new LayerError(this.opts.layer, this.currentEntry, reason);
  }

  private apply(e: TarEntry): DataSink | null {
    const rel = cleanEntryPath(e.name);
    if (rel === null) this.fail('path climbs out of the rootfs with ".."; refusing this layer');
    if (rel === '') {
      if (e.type === 'dir') this.dirMetadata('', e);
      return null;
    }
    const base = baseOf(rel);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === OPAQUE_MARKER) this.opaqueDir(parentOf(rel));
      else if (!base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`) && base.length > WHITEOUT_PREFIX.length) {
        this.whiteout(parentOf(rel), base.slice(WHITEOUT_PREFIX.length));
      }
      return null; // other .wh..wh.* names (aufs hard-link dirs) carry nothing for us
    }
    const parent = this.resolveDir(parentOf(rel), true)!;
    const path = joinRel(parent, base);
    this.markWritten(path);
    switch (e.type) {
      case 'file': return this.file(path, e);
      case 'dir': this.directory(path, e); return null;
      case 'symlink': this.symlink(path, e); return null;
      case 'link': this.hardlink(path, e); return null;
      case 'char': case 'block': this.device(path, e); return null;
      case 'fifo': this.fifo(path, e); return null;
    }
  }

  // --- resolving inside the root

  /**
   * Real relative path of directory `rel` (symlinks followed inside the root). With `create`,
   * missing components are made (overlay mode: with the attributes the dir has in the lower
   * layers, or following a lower symlink); without, a missing component gives null.
   */
  private resolveDir(rel: string, create: boolean): string | null {
    if (this.dirs.has(rel)) return rel;
    const queue = rel.split('/').filter((p) => p !== '');
    let cur = '';
    let hops = 0;
    while (queue.length) {
      const part = queue.shift()!;
      if (part === '.') continue;
      if (part === '..') {
        cur = parentOf(cur);
        continue;
      }
      const next = joinRel(cur, part);
      if (this.dirs.has(next)) {
        cur = next;
        continue;
      }
      const abs = absOf(this.root, next);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st?.isDirectory()) {
        this.dirs.add(next);
        cur = next;
        continue;
      }
      let linkTarget: string | null = null;
      if (st?.isSymbolicLink()) {
        linkTarget = readlinkSync(abs);
      } else if (st) {
        this.fail(`parent "${next}" is not a directory`);
      } else {
        if (!create) return null;
        linkTarget = this.makeImplicitDir(next);
        if (linkTarget === null) {
          cur = next;
          continue;
        }
      }
      if (++hops > MAX_SYMLINK_HOPS) this.fail(`too many levels of symbolic links under "${rel}"`);
      if (linkTarget.startsWith('/')) cur = '';
      queue.unshift(...linkTarget.split('/').filter((p) => p !== '' && p !== '.'));
    }
    return cur;
  }

  /** Make a missing parent dir. Returns a symlink target to follow instead (overlay mode), or null when made. */
  private makeImplicitDir(rel: string): string | null {
    const abs = absOf(this.root, rel);
    const below = this.lowerView?.lookup(rel) ?? null;
    if (below && below.st.isSymbolicLink()) {
      this.dependsOnLower = true;
      return readlinkSync(below.abs);
    }
    if (below && !below.st.isDirectory()) this.fail(`parent "${rel}" is not a directory in a lower layer`);
    mkdirSync(abs, 0o755);
    this.dirs.add(rel);
    if (below) {
      // Overlayfs shows a merged dir with the attributes of its topmost copy: keep the lower ones.
      this.dependsOnLower = true;
      if (this.opts.privileged) lchownSync(abs, below.st.uid, below.st.gid);
      chmodSync(abs, below.st.mode & 0o7777);
      this.defer({ abs, mode: below.st.mode & 0o7777, mtime: below.st.mtimeMs / 1000 });
    }
    return null;
  }

  private markWritten(path: string): void {
    this.written.add(path);
    for (let p = parentOf(path); p !== '' && !this.writtenAncestors.has(p); p = parentOf(p)) this.writtenAncestors.add(p);
  }

  /** Remove whatever non-directory or directory sits at `path` (before putting something else there). */
  private removeExisting(path: string, st?: Stats): void {
    const abs = absOf(this.root, path);
    st ??= lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      rmSync(abs, { recursive: true, force: true });
      this.dirs.forget(path);
      for (const key of this.deferred.keys()) if (key === abs || key.startsWith(`${abs}/`)) this.deferred.delete(key);
    } else {
      unlinkSync(abs);
    }
  }

  /** Run `make`; if the name exists, remove it and run `make` again. */
  private create<T>(path: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.removeExisting(path);
    return make();
  }

  // --- entry kinds

  private file(path: string, e: TarEntry): DataSink {
    const abs = absOf(this.root, path);
    const fd = this.create(path, () => openSync(abs, FILE_FLAGS, 0o600));
    const applier = this;
    return {
      write(chunk: Buffer) {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      },
      end() {
        try {
          if (applier.opts.privileged) fchownSync(fd, e.uid, e.gid);
          fchmodSync(fd, e.mode); // after chown, which clears setuid/setgid
          futimesSync(fd, e.mtime, e.mtime);
        } finally {
          closeSync(fd);
        }
        applier.xattrs(abs, e);
      },
    };
  }

  private directory(path: string, e: TarEntry): void {
    const abs = absOf(this.root, path);
    try {
      mkdirSync(abs, 0o700);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = lstatSync(abs);
      if (!st.isDirectory()) {
        this.removeExisting(path, st);
        mkdirSync(abs, 0o700);
      }
    }
    this.dirs.add(path);
    this.dirMetadata(path, e);
  }

  private dirMetadata(path: string, e: TarEntry): void {
    const abs = absOf(this.root, path);
    if (this.opts.privileged) lchownSync(abs, e.uid, e.gid);
    // Owner keeps write access until finish(), so later entries can go in.
    chmodSync(abs, (e.mode & 0o7777) | 0o700);
    this.xattrs(abs, e);
    this.defer({ abs, mode: e.mode & 0o7777, mtime: e.mtime });
  }

  private defer(d: DeferredDir): void {
    this.deferred.delete(d.abs);
    this.deferred.set(d.abs, d);
  }

  private symlink(path: string, e: TarEntry): void {
    const abs = absOf(this.root, path);
    // The target is kept as written: it is only ever followed inside the container's root.
    this.create(path, () => symlinkSync(e.linkname, abs));
    if (this.opts.privileged) lchownSync(abs, e.uid, e.gid);
    lutimesSync(abs, e.mtime, e.mtime);
    this.xattrs(abs, e);
  }

  private hardlink(path: string, e: TarEntry): void {
    const targetRel = cleanEntryPath(e.linkname);
    if (targetRel === null || targetRel === '') this.fail(`hard link target "${e.linkname}" is outside the rootfs; refusing this layer`);
    const target = this.stackView ? this.findLinkTargetInStack(targetRel) : this.findLinkTarget(targetRel);
    if (target === null) this.fail(`hard link target "${e.linkname}" does not exist`);
    if (target === path) return;
    const absTarget = absOf(this.root, target);
    if (lstatSync(absTarget).isDirectory()) this.fail(`hard link target "${e.linkname}" is a directory`);
    const abs = absOf(this.root, path);
    this.create(path, () => linkSync(absTarget, abs));
  }

  /** Real path of an existing non-dir hard-link target in this root (parents followed inside the root). */
  private findLinkTarget(targetRel: string): string | null {
    const parent = this.resolveDir(parentOf(targetRel), false);
    if (parent === null) return null;
    const real = joinRel(parent, baseOf(targetRel));
    const st = lstatSync(absOf(this.root, real), { throwIfNoEntry: false });
    if (!st || (this.opts.mode === 'overlay' && st.isCharacterDevice() && st.rdev === 0)) return null;
    return real;
  }

  /**
   * overlay mode: the target as the merged view (this layer on the lower ones) sees it. One from a
   * lower layer is copied up into this layer first (as overlayfs would before linking), so both
   * names share an inode as in a flat rootfs.
   */
  private findLinkTargetInStack(targetRel: string): string | null {
    const real = resolveInTree(this.stackView!, targetRel, false);
    if (real === null) return null;
    const hit = this.stackView!.lookup(real);
    if (!hit) return null;
    if (hit.layer.dir === this.root || hit.st.isDirectory()) return real;
    const parent = this.resolveDir(parentOf(real), true)!;
    const dest = joinRel(parent, baseOf(real));
    const abs = absOf(this.root, dest);
    const st = hit.st;
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(hit.abs), abs);
    else if (st.isFile()) copyFileSync(hit.abs, abs, fsc.COPYFILE_EXCL);
    else this.opts.sys.mknod(abs, st.mode, devMajor(st.rdev), devMinor(st.rdev));
    if (this.opts.privileged) lchownSync(abs, st.uid, st.gid);
    if (!st.isSymbolicLink()) chmodSync(abs, st.mode & 0o7777);
    lutimesSync(abs, st.atimeMs / 1000, st.mtimeMs / 1000);
    this.markWritten(dest);
    this.dependsOnLower = true;
    return dest;
  }

  private device(path: string, e: TarEntry): void {
    if (!this.opts.privileged) {
      this.opts.warn(`layer ${this.opts.layer}: skipped device node "${e.name}" (not running as root)`);
      return;
    }
    const abs = absOf(this.root, path);
    const type = e.type === 'char' ? S.IFCHR : S.IFBLK;
    this.create(path, () => this.opts.sys.mknod(abs, type | (e.mode & 0o777), e.devmajor, e.devminor));
    this.nodeMetadata(abs, e);
  }

  private fifo(path: string, e: TarEntry): void {
    const abs = absOf(this.root, path);
    this.create(path, () => this.opts.sys.mknod(abs, S.IFIFO | (e.mode & 0o777), 0, 0));
    this.nodeMetadata(abs, e);
  }

  private nodeMetadata(abs: string, e: TarEntry): void {
    if (this.opts.privileged) lchownSync(abs, e.uid, e.gid);
    chmodSync(abs, e.mode & 0o7777); // a fresh node of ours, not a symlink
    lutimesSync(abs, e.mtime, e.mtime);
    this.xattrs(abs, e);
  }

  private xattrs(abs: string, e: TarEntry): void {
    for (const [name, value] of e.xattrs) {
      if (name.startsWith('trusted.overlay.')) {
        // Would steer the overlay mount (opaque, redirect, metacopy) from inside an image.
        this.opts.warn(`layer ${this.opts.layer}: ignored xattr ${name} on "${e.name}"`);
        continue;
      }
      if (!this.opts.privileged && (name.startsWith('trusted.') || name.startsWith('security.'))) {
        this.opts.warn(`layer ${this.opts.layer}: skipped xattr ${name} on "${e.name}" (not running as root)`);
        continue;
      }
      try {
        this.opts.sys.lsetxattr(abs, name, value);
      } catch (err) {
        this.opts.warn(`layer ${this.opts.layer}: could not set xattr ${name} on "${e.name}": ${(err as Error).message.replaceAll(this.root, '<rootfs>')}`);
      }
    }
  }

  // --- whiteouts

  private whiteout(parentRel: string, name: string): void {
    if (name === '.' || name === '..' || name.includes('/')) this.fail('bad whiteout name');
    if (this.opts.mode === 'overlay') {
      // Only store a whiteout when the lower layers have something to hide: an empty parent dir made
      // just to hold it would show up in the merged view.
      const seen = resolveInTree(this.stackView!, parentRel, true);
      if (seen === null || this.lowerView!.lookup(joinRel(seen, name)) === null) return;
      const parent = this.resolveDir(parentRel, true)!;
      const path = joinRel(parent, name);
      if (this.written.has(path) || this.writtenAncestors.has(path)) return;
      const abs = absOf(this.root, path);
      if (lstatSync(abs, { throwIfNoEntry: false })) return; // already a whiteout
      this.opts.sys.mknod(abs, S.IFCHR, 0, 0);
      return;
    }
    const parent = this.resolveDir(parentRel, false);
    if (parent === null) return; // nothing below to hide
    this.removeLower(joinRel(parent, name));
  }

  /** flat mode: delete what lower layers put at `path`, keeping what this layer wrote. */
  private removeLower(path: string): void {
    const abs = absOf(this.root, path);
    if (this.written.has(path) || this.writtenAncestors.has(path)) {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st?.isDirectory()) for (const child of readdirSync(abs)) this.removeLower(joinRel(path, child));
      return;
    }
    this.removeExisting(path);
  }

  /** `dir/.wh..wh..opq`: `dir` is a directory of this layer that hides the same dir below. */
  private opaqueDir(dirRel: string): void {
    if (dirRel === '') {
      if (this.opts.mode === 'flat') {
        for (const child of readdirSync(this.root)) this.removeLower(child);
      } else {
        this.opts.sys.lsetxattr(this.root, 'trusted.overlay.opaque', Buffer.from('y'));
        this.opaque.add('');
      }
      return;
    }
    const parent = this.resolveDir(parentOf(dirRel), true)!;
    const path = joinRel(parent, baseOf(dirRel));
    const abs = absOf(this.root, path);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) this.removeExisting(path, st);
    if (!st || !st.isDirectory()) {
      mkdirSync(abs, 0o755);
      this.dirs.add(path);
    }
    this.markWritten(path);
    if (this.opts.mode === 'overlay') {
      this.opts.sys.lsetxattr(abs, 'trusted.overlay.opaque', Buffer.from('y'));
      this.opaque.add(path);
    } else {
      for (const child of readdirSync(abs)) this.removeLower(joinRel(path, child));
    }
  }
}

/** Linux dev_t layout (glibc gnu_dev_major/minor). */
export function devMajor(rdev: number): number {
  const d = BigInt(rdev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
}
export function devMinor(rdev: number): number {
  const d = BigInt(rdev);
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
}
