// What the v1 and v2 resource writers share: the file layer, warnings, and writes that fail with
// one line naming the file, the value and the config field.
import { posix } from 'node:path';
import type { CgroupFs } from './cgroup-fs.js';
import { CgroupError, errnoCode, fileError } from './errors.js';

export interface WriteContext {
  fs: CgroupFs;
  warn: (message: string) => void;
}

export function put(ctx: WriteContext, dir: string, file: string, value: string, field?: string): void {
  const path = posix.join(dir, file);
  try {
    ctx.fs.write(path, value);
  } catch (e) {
    throw fileError('write', path, e, value, field);
  }
}

/** put(), but returns the errno name instead of throwing it (for the kernel's order-dependent knobs). */
export function tryPut(ctx: WriteContext, dir: string, file: string, value: string): string | undefined {
  try {
    ctx.fs.write(posix.join(dir, file), value);
    return undefined;
  } catch (e) {
    return errnoCode(e) ?? 'EIO';
  }
}

export function readText(ctx: WriteContext, dir: string, file: string): string {
  const path = posix.join(dir, file);
  try {
    return ctx.fs.read(path);
  } catch (e) {
    throw fileError('read', path, e);
  }
}

export function has(ctx: WriteContext, dir: string, file: string): boolean {
  return ctx.fs.exists(posix.join(dir, file));
}

export function unsupported(field: string, why: string): CgroupError {
  return new CgroupError(`cgroup: ${field}: ${why}`, { field });
}

const HUGEPAGE_SIZE = /^[1-9][0-9]*[KMGTP]B$/;

export function checkHugepageSize(pageSize: string, field: string): string {
  if (!HUGEPAGE_SIZE.test(pageSize)) throw unsupported(field, `page size ${JSON.stringify(pageSize)} must look like "2MB" or "1GB"`);
  return pageSize;
}

/** "mlx4_0 hca_handle=2 hca_object=2000" (only the limits that are set). */
export function rdmaLine(device: string, limits: { hcaHandles?: number; hcaObjects?: number }): string | undefined {
  const parts: string[] = [];
  if (limits.hcaHandles !== undefined) parts.push(`hca_handle=${limits.hcaHandles}`);
  if (limits.hcaObjects !== undefined) parts.push(`hca_object=${limits.hcaObjects}`);
  return parts.length ? `${device} ${parts.join(' ')}` : undefined;
}

/** pids.max: runc maps 0 to 1 (systemd cannot express 0) and negative to "max". */
export function pidsMax(limit: number): string {
  return limit > 0 ? String(limit) : limit === 0 ? '1' : 'max';
}
