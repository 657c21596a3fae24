// Shared by the spec-*.test.ts files: makes sure the build-time validator exists (test/run.mjs
// normally runs after `npm run build`; this lets a single test file run on a fresh checkout).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const top = fileURLToPath(new URL('../..', import.meta.url));

export function ensureGeneratedValidator(): void {
  if (!existsSync(join(top, 'spec/generated/validate-config.cjs'))) {
    execFileSync(process.execPath, [join(top, 'spec/compile-schemas.mjs')], { stdio: 'inherit' });
  }
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs fn in a fresh temp dir (tsrun-test-*) that is removed afterwards, even on failure. */
export async function inTempDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-spec-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
