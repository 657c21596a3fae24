// Capabilities and user identity of the container process: masks are computed in the parent,
// applied in the init right before execve, in runc's order (bounding set, keep caps across the
// uid change, setgroups/setresgid/setresuid, capset, ambient). Sets not given are empty: in
// particular the inheritable set (CVE-2022-29162: runc used to fill it from the bounding set).
import type { Sys } from '../sys/sys.js';
import { O, PR } from '../sys/constants.js';
import { CAPABILITY_NUMBER, type CapabilityName } from '../../spec/names.js';
import type { Capabilities, CapabilitySet } from '../../spec/types.js';
import { warn } from '../cli/log.js';

export interface CredentialPlan {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** False when the user namespace has setgroups=deny: setgroups(2) would fail with EPERM. */
  setGroups: boolean;
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: number[];
  /** Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap). */
  lastCap: number;
}

const SETS: CapabilitySet[] = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'];

/**
 * Capability numbers by set. Names unknown to tsrun were already refused by validation; names newer
 * than this kernel are dropped with a warning, as the runtime-spec asks and runc does ("ignoring
 * unknown or unavailable capabilities").
 */
function knownCaps(caps: Capabilities | undefined, lastCap: number, onIgnored: (msg: string) => void): Record<CapabilitySet, number[]> {
  const out = {} as Record<CapabilitySet, number[]>;
  const tooNew = new Set<string>();
  for (const set of SETS) {
    out[set] = [];
    for (const name of caps?.[set] ?? []) {
      const n = CAPABILITY_NUMBER[name as CapabilityName];
      if (n === undefined) continue;
      if (n > lastCap) tooNew.add(name);
      else if (!out[set].includes(n)) out[set].push(n);
    }
  }
  if (tooNew.size) onIgnored(`process.capabilities: ignoring capabilities this kernel does not have (cap_last_cap ${lastCap}): ${[...tooNew].join(', ')}`);
  return out;
}

function maskOf(numbers: number[]): bigint {
  let mask = 0n;
  for (const n of numbers) mask |= 1n << BigInt(n);
  return mask;
}

/** Mask of capability names (unknown names are left out). */
export function capMask(names: string[] | undefined): bigint {
  return maskOf((names ?? []).map((n) => CAPABILITY_NUMBER[n as CapabilityName]).filter((n) => n !== undefined));
}

export function planCapabilities(caps: Capabilities | undefined, lastCap: number, onIgnored: (msg: string) => void = warn) {
  const known = knownCaps(caps, lastCap, onIgnored);
  return {
    bounding: maskOf(known.bounding),
    effective: maskOf(known.effective),
    permitted: maskOf(known.permitted),
    inheritable: maskOf(known.inheritable),
    ambient: known.ambient,
    lastCap,
  };
}

/** Say which part of the identity change failed, in config terms. */
function step<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const hint = err.code === 'EINVAL' && what.startsWith('process.user') ? ' (not mapped in the user namespace?)' : '';
    throw Object.assign(new Error(`${what}: ${err.code ?? err.message}${hint}`), { code: err.code });
  }
}

/** /proc/self/setgroups says "deny" (a user namespace made unprivileged, or joined with it). */
function setgroupsDenied(sys: Sys): boolean {
  let fd: number;
  try {
    fd = sys.open('/proc/self/setgroups', O.RDONLY | O.CLOEXEC);
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(16);
    return buf.subarray(0, sys.read(fd, buf)).toString().trim() === 'deny';
  } finally {
    sys.close(fd);
  }
}

/** Runs in the init (and exec process). */
export function applyCredentials(sys: Sys, plan: CredentialPlan): void {
  step('process.capabilities.bounding', () => {
    for (let cap = 0; cap <= plan.lastCap; cap++) {
      if (!(plan.bounding & (1n << BigInt(cap)))) sys.prctl(PR.CAPBSET_DROP, cap);
    }
  });
  sys.prctl(PR.SET_KEEPCAPS, 1);
  if (plan.setGroups) {
    step('process.user.additionalGids', () => {
      try {
        sys.setgroups(plan.additionalGids);
      } catch (e) {
        // A joined user namespace may have setgroups=deny: then, as runc, keep the groups we have.
        if ((e as { code?: string }).code !== 'EPERM' || !setgroupsDenied(sys)) throw e;
      }
    });
  }
  step(`process.user.gid ${plan.gid}`, () => sys.setresgid(plan.gid, plan.gid, plan.gid));
  step(`process.user.uid ${plan.uid}`, () => sys.setresuid(plan.uid, plan.uid, plan.uid));
  sys.prctl(PR.SET_KEEPCAPS, 0);
  step('process.capabilities', () => sys.capset(plan.effective, plan.permitted, plan.inheritable));
  // As runc, ambient raises are best effort: the kernel refuses a cap that is not also permitted
  // and inheritable (runc's default spec lists ambient caps with an empty inheritable set).
  for (const cap of plan.ambient) {
    try {
      sys.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, cap);
    } catch {
      // not raised
    }
  }
}
