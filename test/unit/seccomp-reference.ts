// Test helpers for the seccomp room: a reference interpreter of OCI seccomp profiles written from the
// semantics (runc + libseccomp + runc's -ENOSYS patch), independent of the compiler, and a seeded
// random profile generator.
import type { Seccomp, SeccompArg } from '../../spec/types.js';
import x86_64 from '../../runtime/seccomp/tables/x86_64.json' with { type: 'json' };
import i386 from '../../runtime/seccomp/tables/i386.json' with { type: 'json' };
import x32 from '../../runtime/seccomp/tables/x32.json' with { type: 'json' };
import aarch64 from '../../runtime/seccomp/tables/aarch64.json' with { type: 'json' };
import arm from '../../runtime/seccomp/tables/arm.json' with { type: 'json' };

export const RET = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0, TRAP: 0x30000, ERRNO: 0x50000, USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000,
};
export const AUDIT = { X86_64: 0xc000003e, I386: 0x40000003, AARCH64: 0xc00000b7, ARM: 0x40000028 };
const X32_BIT = 0x40000000;

type Abi = 'x86_64' | 'i386' | 'x32' | 'aarch64' | 'arm';
const TABLE: Record<Abi, Record<string, number>> = { x86_64, i386, x32, aarch64, arm };
const ABI_OF: Record<string, Abi> = {
  SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X86: 'i386', SCMP_ARCH_X32: 'x32', SCMP_ARCH_AARCH64: 'aarch64', SCMP_ARCH_ARM: 'arm',
};
const NATIVE: Record<string, Abi> = { x64: 'x86_64', ia32: 'i386', arm64: 'aarch64', arm: 'arm' };
const BITS: Record<Abi, 32 | 64> = { x86_64: 64, aarch64: 64, i386: 32, x32: 32, arm: 32 };

export function actionValue(action: string, errnoRet?: number): number {
  const base: Record<string, number> = {
    SCMP_ACT_KILL: RET.KILL_THREAD, SCMP_ACT_KILL_THREAD: RET.KILL_THREAD, SCMP_ACT_KILL_PROCESS: RET.KILL_PROCESS,
    SCMP_ACT_TRAP: RET.TRAP, SCMP_ACT_ERRNO: RET.ERRNO, SCMP_ACT_TRACE: RET.TRACE, SCMP_ACT_LOG: RET.LOG,
    SCMP_ACT_ALLOW: RET.ALLOW, SCMP_ACT_NOTIFY: RET.USER_NOTIF,
  };
  const b = base[action];
  if (action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE') return (b + (errnoRet ?? 1)) >>> 0;
  return b;
}

function holds(arg: SeccompArg, value: bigint, bits: 32 | 64): boolean {
  const cut = (v: bigint) => (bits === 32 ? v & 0xffffffffn : v);
  const a = cut(value);
  const v = cut(BigInt(arg.value));
  const v2 = cut(BigInt(arg.valueTwo ?? 0));
  switch (arg.op) {
    case 'SCMP_CMP_EQ': return a === v;
    case 'SCMP_CMP_NE': return a !== v;
    case 'SCMP_CMP_LT': return a < v;
    case 'SCMP_CMP_LE': return a <= v;
    case 'SCMP_CMP_GT': return a > v;
    case 'SCMP_CMP_GE': return a >= v;
    case 'SCMP_CMP_MASKED_EQ': return (a & v) === (v2 & v); // libseccomp masks the value too
  }
}

/** What the kernel should return for (arch, nr, args) under `profile` compiled for `native`. */
export function expectedAction(profile: Seccomp, native: string, audit: number, nr: number, args: bigint[]): number {
  const listed = (profile.architectures ?? []).map((a) => ABI_OF[a]).filter(Boolean);
  const present = new Set<Abi>([NATIVE[native], ...listed]);
  let abi: Abi | undefined;
  if (audit === AUDIT.X86_64) {
    abi = nr & X32_BIT ? 'x32' : 'x86_64';
    // libseccomp lets syscall -1 through an x86_64 filter that has no x32 part.
    if (abi === 'x32' && !present.has('x32') && nr === 0xffffffff && present.has('x86_64')) abi = 'x86_64';
  } else if (audit === AUDIT.I386) abi = 'i386';
  else if (audit === AUDIT.AARCH64) abi = 'aarch64';
  else if (audit === AUDIT.ARM) abi = 'arm';
  if (!abi || !present.has(abi)) return RET.KILL_THREAD;

  const table = TABLE[abi];
  const def = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const permissive = ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(profile.defaultAction);
  const rules = profile.syscalls ?? [];
  if (!permissive && listed.includes(abi) && !(abi === 'x86_64' && nr & X32_BIT)) {
    const nrs = rules.flatMap((r) => r.names.map((n) => table[n])).filter((n) => n !== undefined);
    if (nrs.length && Math.max(...nrs) > 0 && nr > Math.max(...nrs)) return RET.ERRNO + 38; // runc: 0 = none
  }
  const mine = rules.filter((r) => actionValue(r.action, r.errnoRet) !== def && r.names.some((n) => table[n] === nr));
  const plain = mine.find((r) => !r.args?.length);
  if (plain) return actionValue(plain.action, plain.errnoRet);
  for (const r of mine) {
    const conds = r.args!;
    const indexes = conds.map((c) => c.index);
    const separate = new Set(indexes).size !== indexes.length;
    const ok = separate
      ? conds.some((c) => holds(c, args[c.index] ?? 0n, BITS[abi!]))
      : conds.every((c) => holds(c, args[c.index] ?? 0n, BITS[abi!]));
    if (ok) return actionValue(r.action, r.errnoRet);
  }
  return def;
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;

/** Values chosen so halves differ and comparisons land on both sides. */
export const INTERESTING = [
  0n, 1n, 2n, 7n, 0xffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1ffffffffn,
  0x7fffffff00000000n, 0x8000000000000000n, 0xfffffffffffffffen, 0xffffffffffffffffn, 0x123456789abcdefn,
];

export interface RandomProfileOptions {
  names: string[];
  actions: string[];
  errnos: () => number;
  architectures?: string[][];
  defaults?: string[];
}

export function randomProfile(rand: () => number, o: RandomProfileOptions): Seccomp {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const value = () => (rand() < 0.7 ? pick(INTERESTING) : BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(Math.floor(rand() * 33)));
  const withData = (a: string) => a === 'SCMP_ACT_ERRNO' || a === 'SCMP_ACT_TRACE';
  const defaultAction = pick(o.defaults ?? ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO']);
  const profile: Seccomp = { defaultAction: defaultAction as Seccomp['defaultAction'], syscalls: [] };
  if (withData(defaultAction) && rand() < 0.7) profile.defaultErrnoRet = o.errnos();
  const archChoice = pick(o.architectures ?? [[]]);
  if (archChoice.length) profile.architectures = archChoice as Seccomp['architectures'];
  const nRules = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < nRules; i++) {
    const action = pick(o.actions);
    const names = [pick(o.names)];
    if (rand() < 0.3) names.push(pick(o.names));
    const rule: NonNullable<Seccomp['syscalls']>[number] = { names, action: action as never };
    if (withData(action) && rand() < 0.8) rule.errnoRet = o.errnos();
    if (rand() < 0.7) {
      const n = 1 + Math.floor(rand() * 3);
      rule.args = [];
      for (let j = 0; j < n; j++) {
        const op = pick(OPS);
        const v = value();
        const v2 = op !== 'SCMP_CMP_MASKED_EQ' ? 0n : rand() < 0.6 ? v & pick(INTERESTING) : value();
        // Values above 2^53 cannot come from JSON; the compiler takes bigint too, and so do these tests.
        rule.args.push({ index: Math.floor(rand() * 3), op, value: v as unknown as number, valueTwo: v2 as unknown as number });
      }
    }
    profile.syscalls!.push(rule);
  }
  return profile;
}
