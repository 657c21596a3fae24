// Capabilities and user identity of the container process: masks are computed in the parent,
// applied in the init right before execve, in runc's order (bounding set, keep caps across the
// uid change, setgroups/setresgid/setresuid, capset, ambient).
import type { Sys } from '../sys/sys.js';
import { PR } from '../sys/constants.js';
import { CAPABILITY_NUMBER, type CapabilityName } from '../../spec/names.js';
import type { Capabilities } from '../../spec/types.js';

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

export function capMask(names: string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const n = CAPABILITY_NUMBER[name as CapabilityName];
    if (n !== undefined) mask |= 1n << BigInt(n);
  }
  return mask;
}

export function capNumbers(names: string[] | undefined): number[] {
  return (names ?? []).map((n) => CAPABILITY_NUMBER[n as CapabilityName]).filter((n) => n !== undefined);
}

export function planCapabilities(caps: Capabilities | undefined, lastCap: number) {
  return {
    bounding: capMask(caps?.bounding),
    effective: capMask(caps?.effective),
    permitted: capMask(caps?.permitted),
    inheritable: capMask(caps?.inheritable),
    ambient: capNumbers(caps?.ambient),
    lastCap,
  };
}

/** Runs in the init. */
export function applyCredentials(sys: Sys, plan: CredentialPlan): void {
  for (let cap = 0; cap <= plan.lastCap; cap++) {
    if (!(plan.bounding & (1n << BigInt(cap)))) sys.prctl(PR.CAPBSET_DROP, cap);
  }
  sys.prctl(PR.SET_KEEPCAPS, 1);
  if (plan.setGroups) sys.setgroups(plan.additionalGids);
  sys.setresgid(plan.gid, plan.gid, plan.gid);
  sys.setresuid(plan.uid, plan.uid, plan.uid);
  sys.prctl(PR.SET_KEEPCAPS, 0);
  sys.capset(plan.effective, plan.permitted, plan.inheritable);
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
