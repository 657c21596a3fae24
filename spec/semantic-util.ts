// Helpers for the semantic checks: they run on any JSON (also one the schema rejected), so every
// access is guarded and a wrong shape simply skips the check (the schema already reported it).
import type { ValidationIssue } from './issues.js';
import { pointer } from './issues.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const objOf = (v: unknown): Obj => (isObj(v) ? v : {});
export const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
export const isStr = (v: unknown): v is string => typeof v === 'string';

export class IssueList {
  readonly items: ValidationIssue[] = [];
  error(path: string, message: string): void {
    this.items.push({ path, message, severity: 'error' });
  }
  warn(path: string, message: string): void {
    this.items.push({ path, message, severity: 'warning' });
  }
}

/** What linux.namespaces asks for: type -> { index, path? } (the first entry of each type). */
export type NamespaceIndex = Map<string, { index: number; path?: string }>;

export function namespaceIndex(config: Obj): NamespaceIndex {
  const found: NamespaceIndex = new Map();
  listOf(objOf(config.linux).namespaces).forEach((ns, index) => {
    if (isObj(ns) && isStr(ns.type) && !found.has(ns.type)) {
      found.set(ns.type, { index, path: isStr(ns.path) && ns.path !== '' ? ns.path : undefined });
    }
  });
  return found;
}

export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
  path: string;
}

/**
 * Checks one uidMappings/gidMappings list the way the kernel will (count, empty ranges, 32-bit
 * overflow, overlaps on either side) and returns the well-formed ranges.
 */
export function checkIdMappings(issues: IssueList, list: unknown, base: (string | number)[]): IdRange[] {
  const ranges: IdRange[] = [];
  const entries = listOf(list);
  if (entries.length > 340) {
    issues.error(pointer(...base), `${entries.length} mappings; the kernel accepts at most 340`);
  }
  entries.forEach((m, i) => {
    if (!isObj(m) || !isInt(m.containerID) || !isInt(m.hostID) || !isInt(m.size)) return;
    const path = pointer(...base, i);
    if (m.size === 0) {
      issues.error(`${path}/size`, 'must be at least 1 (an empty range maps nothing)');
      return;
    }
    for (const side of ['containerID', 'hostID'] as const) {
      const start = m[side] as number;
      if (start + m.size > 2 ** 32) {
        issues.error(`${path}/size`, `${side} ${start} + size ${m.size} goes past 4294967295`);
        return;
      }
    }
    ranges.push({ containerID: m.containerID, hostID: m.hostID, size: m.size, path });
  });
  for (let i = 0; i < ranges.length; i++) {
    for (let j = 0; j < i; j++) {
      for (const side of ['containerID', 'hostID'] as const) {
        const a = ranges[i], b = ranges[j];
        if (a[side] < b[side] + b.size && b[side] < a[side] + a.size) {
          const span = (r: IdRange) => `${r[side]}-${r[side] + r.size - 1}`;
          const which = side === 'containerID' ? 'container' : 'host';
          issues.error(a.path, `${which} ids ${span(a)} overlap ${span(b)} of ${b.path}`);
        }
      }
    }
  }
  return ranges;
}

export function idIsMapped(ranges: IdRange[], id: number): boolean {
  return ranges.some((r) => id >= r.containerID && id < r.containerID + r.size);
}

/** Problems the cpu-list pattern cannot see in "0-3,7"-style lists (ranges that run backwards). */
export function cpuListProblem(list: string): string | undefined {
  if (list === '') return undefined;
  for (const part of list.split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    if (hi !== undefined && hi < lo) return `range "${part}" runs backwards`;
  }
  return undefined;
}
