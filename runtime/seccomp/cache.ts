// Compiled filters kept on disk, one file per profile: containerd and podman pass the same default
// profile to every container, and compiling Docker's profile costs a short-lived tsrun ~8 ms of its
// `create` (interpreted code, three syscall tables); reading the kept program costs ~1 ms.
// The file holds the whole key (compiler version, architecture, profile as JSON) and is used only
// when that key matches exactly, so a hash collision can only cost a compile. Only root's cache is
// used, in a directory root owns and nobody else may write: a planted program would be a hole.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SECCOMP_COMPILER_VERSION, type CompiledSeccomp } from './compile.js';
import type { LinuxSeccompProfile } from './profile.js';

export const DEFAULT_SECCOMP_CACHE = '/var/lib/tsrun/seccomp';
/** Beyond this many kept programs the directory is emptied before the next one is written. */
const MAX_ENTRIES = 256;

interface CacheFile {
  key: string;
  filter: string; // base64
  flags: number;
  needsListener: boolean;
}

/** $TSRUN_SECCOMP_CACHE ("": no cache), else /var/lib/tsrun/seccomp; "" for non-root. */
export function seccompCacheDir(): string {
  if (process.geteuid?.() !== 0) return '';
  return process.env.TSRUN_SECCOMP_CACHE ?? DEFAULT_SECCOMP_CACHE;
}

/** `compile()`'s result for this profile, from the cache in `dir` when kept there ("": no cache). */
export function compileCached(
  profile: LinuxSeccompProfile,
  arch: NodeJS.Architecture,
  compile: () => CompiledSeccomp,
  dir = seccompCacheDir(),
): CompiledSeccomp {
  if (!dir) return compile();
  const key = JSON.stringify({ compiler: SECCOMP_COMPILER_VERSION, arch, profile });
  const file = join(dir, `${key.length}-${fnv1a(key)}.json`);
  const kept = readKept(dir, file, key);
  if (kept) return kept;
  const compiled = compile();
  keep(dir, file, { key, filter: compiled.filter.toString('base64'), flags: compiled.flags, needsListener: compiled.needsListener });
  return compiled;
}

function readKept(dir: string, file: string, key: string): CompiledSeccomp | undefined {
  if (!trustedDir(dir)) return undefined;
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined; // not kept yet
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0) return undefined;
    const kept = JSON.parse(readFileSync(fd, 'utf8')) as CacheFile;
    if (kept.key !== key) return undefined;
    return { filter: Buffer.from(kept.filter, 'base64'), flags: kept.flags, needsListener: kept.needsListener };
  } catch {
    return undefined; // unreadable or truncated: compile
  } finally {
    closeSync(fd);
  }
}

function keep(dir: string, file: string, entry: CacheFile): void {
  try {
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 }); // /var/lib/tsrun is shared with exe/ and layers/
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (!trustedDir(dir)) return;
    const names = readdirSync(dir);
    if (names.length >= MAX_ENTRIES) for (const n of names) unlinkSync(join(dir, n));
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // read-only or full: compile next time too
  }
}

/** A real directory (not a symlink) that root owns and only root may write. */
function trustedDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units, as hex: a file name, not a proof. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
