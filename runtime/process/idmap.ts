// Writing a new user namespace's id maps from the parent (stage 1 asks, then waits), as runc does:
//  - tsrun run by root: /proc/PID/{uid,gid}_map written directly, any number of ranges; setgroups
//    is left as the kernel made it ("allow").
//  - tsrun run by another user (rootless): a single range mapping the caller's own id is written
//    directly (gid_map only after setgroups=deny, the kernel's rule since 3.19); anything else goes
//    through the setuid helpers newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
// Runs in the tsrun process (not a forked child): node:fs and child_process are fine here.
import { writeFileSync } from 'node:fs';
import { nodeRequire } from '../node-require.js';
import type { IDMapping } from '../../spec/types.js';
import { ContainerError } from '../container/errors.js';

export class IdMapError extends ContainerError {
  constructor(field: string, message: string, readonly code?: string) {
    super(`${field}: ${message}`);
    this.name = 'IdMapError';
  }
}

export interface IdMapOptions {
  /** The caller's effective ids on the host; rootless when euid is not 0. */
  euid: number;
  egid: number;
  /** Where to find the helpers (tests point this elsewhere). */
  newuidmap?: string;
  newgidmap?: string;
  /** The config fields errors name (default: linux.uidMappings, linux.gidMappings). */
  fields?: { uid: string; gid: string };
}

export function renderIdMap(maps: IDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** An unprivileged caller may write this map itself: one range, size 1, its own id. */
export function isOwnIdOnly(maps: IDMapping[], ownId: number): boolean {
  return maps.length === 1 && maps[0].size === 1 && maps[0].hostID === ownId;
}

function writeProc(pid: number, file: string, data: string, field: string): void {
  try {
    writeFileSync(`/proc/${pid}/${file}`, data);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new IdMapError(field, `write /proc/${pid}/${file} (${JSON.stringify(data.trim())}): ${code}`, code);
  }
}

function runHelper(helper: string, pid: number, maps: IDMapping[], field: string, idFile: string): void {
  const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  // Loaded here: node:child_process brings in Node's net and streams, ~20 ms of `create` under the
  // fork flags (with V8 flags Node compiles its own modules without their code cache).
  const { spawnSync } = nodeRequire('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(helper, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: {}, timeout: 10_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new IdMapError(
      field,
      code === 'ENOENT'
        ? `mapping more than your own id needs ${helper} (package uidmap) and an entry in ${idFile}`
        : `${helper}: ${code ?? r.error.message}`,
      code,
    );
  }
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || '').trim().split('\n').pop() || `exit status ${r.status}`;
    throw new IdMapError(field, `${helper} ${args.join(' ')} failed: ${why} (check ${idFile})`);
  }
}

/** Write the maps of stage 1's new user namespace (pid is stage 1's host pid). */
export function writeIdMaps(pid: number, uidMappings: IDMapping[] = [], gidMappings: IDMapping[] = [], opts: IdMapOptions): void {
  const rootless = opts.euid !== 0;
  const { uid: uidField, gid: gidField } = opts.fields ?? { uid: 'linux.uidMappings', gid: 'linux.gidMappings' };
  if (!rootless) {
    if (uidMappings.length) writeProc(pid, 'uid_map', renderIdMap(uidMappings), uidField);
    if (gidMappings.length) writeProc(pid, 'gid_map', renderIdMap(gidMappings), gidField);
    return;
  }
  if (uidMappings.length) {
    if (isOwnIdOnly(uidMappings, opts.euid)) writeProc(pid, 'uid_map', renderIdMap(uidMappings), uidField);
    else runHelper(opts.newuidmap ?? 'newuidmap', pid, uidMappings, uidField, '/etc/subuid');
  }
  if (gidMappings.length) {
    if (isOwnIdOnly(gidMappings, opts.egid)) {
      writeProc(pid, 'setgroups', 'deny', gidField);
      writeProc(pid, 'gid_map', renderIdMap(gidMappings), gidField);
    } else {
      runHelper(opts.newgidmap ?? 'newgidmap', pid, gidMappings, gidField, '/etc/subgid');
    }
  }
}
