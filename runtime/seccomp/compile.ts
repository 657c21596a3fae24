// OCI seccomp profile -> classic BPF, with the decisions runc (libseccomp + its -ENOSYS patch) makes:
//  - the native architecture is always filtered; listed ones are added; any other arch gets
//    KILL_THREAD (libseccomp's bad-arch action, which runc keeps). x32 shares AUDIT_ARCH_X86_64:
//    an x86_64 filter without x32 treats numbers with __X32_SYSCALL_BIT as a bad arch (except -1),
//    an x32 filter without x86_64 treats numbers without it as a bad arch.
//  - rules whose action equals the default action are skipped; unknown names are skipped.
//  - for one syscall, an argument-less rule wins over every conditional one (the first such rule);
//    otherwise the conditional rules are tried in profile order, first match wins, then the default.
//  - conditions of one rule are ANDed, unless two test the same argument: then each becomes its own
//    rule (runc's "old behavior"). 64-bit arguments are compared as high then low 32-bit halves;
//    32-bit ABIs (x86, x32, arm) compare the low half only, with the value truncated, like libseccomp.
//  - runc's -ENOSYS stub: unless the default is ALLOW/LOG/TRACE, syscall numbers above the largest
//    one the profile names (per listed architecture) return ENOSYS, so newer syscalls fail softly.
// Per architecture the syscall number space is cut into ranges (adjacent numbers with the same
// decision merged) and searched with a balanced binary tree of `jge`, so the default Docker
// profile decides in ~log2(ranges) jumps.
import { ARCHES, nativeArch, syscallTable, type ArchInfo } from './arch.js';
import { Assembler } from './assembler.js';
import { ENOSYS, SECCOMP_DATA, SECCOMP_RET, X32_SYSCALL_BIT } from './constants.js';
import { SeccompError } from './errors.js';
import { readProfile, type Condition, type LinuxSeccompProfile, type ReadProfile } from './profile.js';

export interface CompiledSeccomp {
  /** struct sock_filter[], 8 bytes each. */
  filter: Buffer;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(SECCOMP_SET_MODE_FILTER). */
  flags: number;
  /** A rule uses SCMP_ACT_NOTIFY: loading returns a listener fd for the agent at listenerPath. */
  needsListener: boolean;
}

/**
 * Names this compiler's output for the kept programs (cache.ts). Bump it with any change to what the
 * compiler emits; test/unit/seccomp-cache.test.ts pins the output of Docker's profile to catch that.
 */
export const SECCOMP_COMPILER_VERSION = 1;

const BAD_ARCH_ACTION = SECCOMP_RET.KILL_THREAD;
const ENOSYS_ACTION = (SECCOMP_RET.ERRNO | ENOSYS) >>> 0;
const U32_MAX = 0xffffffff;

interface CondRule {
  conditions: Condition[];
  action: number;
}

/** What happens to one syscall number (or a range of them). */
type Decision =
  | { kind: 'return'; action: number }
  | { kind: 'rules'; rules: CondRule[]; argBits: 32 | 64; fallback: number };

interface Range {
  start: number;
  decision: Decision;
}

/** Whether neighbouring ranges can merge: the same action, or the same rules. */
function sameDecision(a: Decision, b: Decision): boolean {
  if (a.kind === 'return') return b.kind === 'return' && a.action === b.action;
  if (b.kind === 'return') return false;
  return a === b || decisionKey(a) === decisionKey(b);
}

function decisionKey(d: Extract<Decision, { kind: 'rules' }>): string {
  const conds = d.rules.map((r) => `${r.action}:${r.conditions.map((c) => `${c.index}${c.op}${c.value},${c.valueTwo}`).join('&')}`);
  return `c${d.argBits}|${d.fallback}|${conds.join('|')}`;
}

/** One AUDIT_ARCH block of the filter: one or two ABIs (x86_64 and x32 share one). */
interface Block {
  audit: number;
  members: ArchInfo[];
}

export function compileSeccomp(profile: LinuxSeccompProfile, arch: NodeJS.Architecture = process.arch): CompiledSeccomp {
  const read = readProfile(profile);
  const native = nativeArch(arch);
  if (!native) throw new SeccompError('linux.seccomp', `tsrun has no syscall table for the ${arch} architecture`);

  // Architectures tsrun has no table for (mips, ppc, s390, riscv...) cannot appear in
  // seccomp_data.arch on an x86 or arm kernel, so leaving them out changes no decision.
  const listed = read.architectures.map((name) => ARCHES[name]).filter((a): a is ArchInfo => a !== undefined);
  const filtered: ArchInfo[] = [native, ...listed.filter((a) => a !== native)];
  const blocks: Block[] = [];
  for (const a of filtered) {
    const block = blocks.find((b) => b.audit === a.audit);
    if (block) block.members.push(a);
    else blocks.push({ audit: a.audit, members: [a] });
  }
  const stubArches = read.defaultIsPermissive ? new Set<ArchInfo>() : new Set(listed);

  const asm = new Assembler();
  asm.ldAbs(SECCOMP_DATA.ARCH);
  for (const block of blocks) {
    const nextArch = asm.label();
    asm.jeq(block.audit, undefined, nextArch);
    asm.ldAbs(SECCOMP_DATA.NR);
    emitSearch(asm, blockRanges(block, read, stubArches));
    asm.place(nextArch);
  }
  asm.ret(BAD_ARCH_ACTION);

  return { filter: asm.assemble(), flags: read.flags, needsListener: read.needsListener };
}

/** The decision of every syscall the profile names for one ABI. */
function syscallDecisions(arch: ArchInfo, read: ReadProfile): Map<number, Decision> {
  const table = syscallTable(arch.table);
  const unconditional = new Map<number, number>();
  const conditional = new Map<number, CondRule[]>();
  for (const rule of read.rules) {
    if (rule.action === read.defaultAction) continue;
    const split = hasRepeatedArgument(rule.conditions) ? rule.conditions.map((c) => [c]) : [rule.conditions];
    for (const name of rule.names) {
      const nr = table.get(name);
      if (nr === undefined) continue;
      if (rule.conditions.length === 0) {
        if (!unconditional.has(nr)) unconditional.set(nr, rule.action);
        continue;
      }
      let list = conditional.get(nr);
      if (!list) conditional.set(nr, (list = []));
      for (const conditions of split) list.push({ conditions: conditions.map((c) => narrow(c, arch.argBits)), action: rule.action });
    }
  }
  const out = new Map<number, Decision>();
  for (const [nr, rules] of conditional) out.set(nr, { kind: 'rules', rules, argBits: arch.argBits, fallback: read.defaultAction });
  for (const [nr, action] of unconditional) out.set(nr, { kind: 'return', action });
  return out;
}

function hasRepeatedArgument(conditions: Condition[]): boolean {
  const seen = new Set<number>();
  for (const c of conditions) {
    if (seen.has(c.index)) return true;
    seen.add(c.index);
  }
  return false;
}

/** 32-bit ABIs see only the low half of a value (libseccomp truncates the same way). */
function narrow(c: Condition, argBits: 32 | 64): Condition {
  if (argBits === 64) return c;
  return { ...c, value: BigInt.asUintN(32, c.value), valueTwo: BigInt.asUintN(32, c.valueTwo) };
}

/** The largest syscall number the profile names for an ABI (rules of every action count, as in runc). */
function largestNamed(arch: ArchInfo, read: ReadProfile): number | undefined {
  const table = syscallTable(arch.table);
  let max: number | undefined;
  for (const rule of read.rules) {
    for (const name of rule.names) {
      const nr = table.get(name);
      if (nr !== undefined && (max === undefined || nr > max)) max = nr;
    }
  }
  return max;
}

interface Region {
  first: number;
  last: number;
  action: number;
}

/** The whole u32 syscall-number space of one block as merged ranges, lowest first. */
function blockRanges(block: Block, read: ReadProfile, stubArches: Set<ArchInfo>): Range[] {
  const has = (t: string) => block.members.some((m) => m.table === t);
  const decisions = new Map<number, Decision>();
  for (const m of block.members) for (const [nr, d] of syscallDecisions(m, read)) decisions.set(nr, d);

  // Regions that take precedence over the rules: first the -ENOSYS stub (runc runs it before the
  // libseccomp filter), then the x32 / x86_64 split.
  const regions: Region[] = [];
  for (const m of block.members) {
    if (!stubArches.has(m)) continue;
    const max = largestNamed(m, read);
    // runc takes a largest number of 0 (only `read` on x86_64) as "none found" and adds no stub.
    if (!max) continue;
    const last = m.table === 'x86_64' ? X32_SYSCALL_BIT - 1 : U32_MAX;
    if (max < last) regions.push({ first: max + 1, last, action: ENOSYS_ACTION });
  }
  if (has('x86_64') && !has('x32')) regions.push({ first: X32_SYSCALL_BIT, last: U32_MAX - 1, action: BAD_ARCH_ACTION });
  if (has('x32') && !has('x86_64')) regions.push({ first: 0, last: X32_SYSCALL_BIT - 1, action: BAD_ARCH_ACTION });

  const cuts = new Set<number>([0]);
  for (const nr of decisions.keys()) {
    cuts.add(nr);
    if (nr < U32_MAX) cuts.add(nr + 1);
  }
  for (const r of regions) {
    cuts.add(r.first);
    if (r.last < U32_MAX) cuts.add(r.last + 1);
  }
  const starts = Float64Array.from(cuts).sort(); // numeric, without a JS comparator per step
  const fallback: Decision = { kind: 'return', action: read.defaultAction };
  const ranges: Range[] = [];
  for (const start of starts) {
    let decision = decisions.get(start) ?? fallback;
    for (const r of regions) {
      if (r.first <= start && start <= r.last) {
        decision = { kind: 'return', action: r.action };
        break;
      }
    }
    if (ranges.length && sameDecision(ranges[ranges.length - 1].decision, decision)) continue;
    ranges.push({ start, decision });
  }
  return ranges;
}

/** Balanced binary search over the ranges; the accumulator holds the syscall number. */
function emitSearch(asm: Assembler, ranges: Range[]): void {
  const visit = (lo: number, hi: number): void => {
    if (lo === hi) {
      emitDecision(asm, ranges[lo].decision);
      return;
    }
    const mid = (lo + hi + 1) >> 1;
    const upper = asm.label();
    asm.jge(ranges[mid].start, upper, undefined);
    visit(lo, mid - 1);
    asm.place(upper);
    visit(mid, hi);
  };
  visit(0, ranges.length - 1);
}

function emitDecision(asm: Assembler, d: Decision): void {
  if (d.kind === 'return') {
    asm.ret(d.action);
    return;
  }
  for (const rule of d.rules) {
    const nextRule = asm.label();
    for (const c of rule.conditions) emitCondition(asm, c, d.argBits, nextRule);
    asm.ret(rule.action);
    asm.place(nextRule);
  }
  asm.ret(d.fallback);
}

const hi32 = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
const lo32 = (v: bigint) => Number(v & 0xffffffffn);

/** Falls through when the condition holds, jumps to `fail` when it does not. Clobbers A. */
function emitCondition(asm: Assembler, c: Condition, argBits: 32 | 64, fail: number): void {
  const lo = SECCOMP_DATA.ARGS + 8 * c.index;
  const hi = lo + 4; // little-endian seccomp_data (x86, arm)
  const pass = asm.label();
  // MASKED_EQ compares (arg & mask) with (value & mask), as libseccomp does: bits of the value
  // outside the mask are ignored rather than making the rule impossible.
  const v = c.op === 'SCMP_CMP_MASKED_EQ' ? c.valueTwo & c.value : c.value;
  const mask = c.value;
  if (argBits === 64) {
    asm.ldAbs(hi);
    switch (c.op) {
      case 'SCMP_CMP_EQ': asm.jeq(hi32(v), undefined, fail); break;
      case 'SCMP_CMP_NE': asm.jeq(hi32(v), undefined, pass); break;
      case 'SCMP_CMP_GT':
      case 'SCMP_CMP_GE':
        asm.jgt(hi32(v), pass, undefined);
        asm.jeq(hi32(v), undefined, fail);
        break;
      case 'SCMP_CMP_LT':
      case 'SCMP_CMP_LE':
        asm.jgt(hi32(v), fail, undefined);
        asm.jeq(hi32(v), undefined, pass);
        break;
      case 'SCMP_CMP_MASKED_EQ':
        asm.and(hi32(mask));
        asm.jeq(hi32(v), undefined, fail);
        break;
    }
  }
  asm.ldAbs(lo);
  switch (c.op) {
    case 'SCMP_CMP_EQ': asm.jeq(lo32(v), pass, fail); break;
    case 'SCMP_CMP_NE': asm.jeq(lo32(v), fail, pass); break;
    case 'SCMP_CMP_GT': asm.jgt(lo32(v), pass, fail); break;
    case 'SCMP_CMP_GE': asm.jge(lo32(v), pass, fail); break;
    case 'SCMP_CMP_LT': asm.jge(lo32(v), fail, pass); break;
    case 'SCMP_CMP_LE': asm.jgt(lo32(v), fail, pass); break;
    case 'SCMP_CMP_MASKED_EQ':
      asm.and(lo32(mask));
      asm.jeq(lo32(v), pass, fail);
      break;
  }
  asm.place(pass);
}
