// The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program generated from the rules
// (same idea as crun's ebpf.c and runc's devicefilter; written here from the kernel's ABI).
// The program gets `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` in R1,
// where access_type = (access << 16) | type, and returns 1 to allow, 0 to deny.
// Rules are checked from the last to the first and the first match decides, so a later rule in
// the list overrides an earlier one; when none matches the access is allowed (as in a fresh v1
// devices cgroup), which is why configs start with a deny-everything rule.
import type { DeviceRule } from './devices.js';
import { matchesEverything } from './devices.js';

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;

// Opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K = 0x54;
const ALU32_RSH_K = 0x74;
const ALU32_MOV_K = 0xb4;
const ALU32_MOV_X = 0xbc;
const JMP_JEQ_K = 0x15;
const JMP_JNE_K = 0x55;
const JMP_EXIT = 0x95;

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** Jump to the end of the current rule block (resolved when the block is closed). */
  toNext?: boolean;
}

function insn(code: number, dst: number, src: number, off: number, imm: number): Insn {
  return { code, dst, src, off, imm };
}

function accessBits(access: string): number {
  let bits = 0;
  if (access.includes('r')) bits |= BPF_DEVCG_ACC_READ;
  if (access.includes('w')) bits |= BPF_DEVCG_ACC_WRITE;
  if (access.includes('m')) bits |= BPF_DEVCG_ACC_MKNOD;
  return bits;
}

const ALL_ACCESS = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

function ruleBlock(r: DeviceRule): Insn[] {
  const block: Insn[] = [];
  const skip = (code: number, dst: number, imm: number) => block.push({ ...insn(code, dst, 0, 0, imm), toNext: true });
  if (r.type !== 'a') skip(JMP_JNE_K, R2, r.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
  const bits = accessBits(r.access);
  if (bits !== ALL_ACCESS) {
    block.push(insn(ALU32_MOV_X, R1, R3, 0, 0));
    if (r.allow) {
      // An allow rule covers the request only if every requested access is in it.
      block.push(insn(ALU32_AND_K, R1, 0, 0, ~bits & 0xffff));
      skip(JMP_JNE_K, R1, 0);
    } else {
      // A deny rule applies as soon as one requested access is in it.
      block.push(insn(ALU32_AND_K, R1, 0, 0, bits));
      skip(JMP_JEQ_K, R1, 0);
    }
  }
  if (r.major !== -1) skip(JMP_JNE_K, R4, r.major | 0);
  if (r.minor !== -1) skip(JMP_JNE_K, R5, r.minor | 0);
  block.push(insn(ALU32_MOV_K, R0, 0, 0, r.allow ? 1 : 0), insn(JMP_EXIT, 0, 0, 0, 0));
  block.forEach((ins, i) => {
    if (ins.toNext) ins.off = block.length - (i + 1);
  });
  return block;
}

/** The program's instructions, 8 bytes each (little endian, as the kernel on x86-64/arm64 reads them). */
export function deviceFilterProgram(rules: DeviceRule[]): Buffer {
  const prog: Insn[] = [
    insn(LDX_MEM_W, R2, R1, 0, 0),
    insn(ALU32_AND_K, R2, 0, 0, 0xffff),
    insn(LDX_MEM_W, R3, R1, 0, 0),
    insn(ALU32_RSH_K, R3, 0, 0, 16),
    insn(LDX_MEM_W, R4, R1, 4, 0),
    insn(LDX_MEM_W, R5, R1, 8, 0),
  ];
  let decided = false;
  for (let i = rules.length - 1; i >= 0; i--) {
    prog.push(...ruleBlock(rules[i]));
    // Nothing before a rule that matches every request can ever be reached.
    if (matchesEverything(rules[i])) {
      decided = true;
      break;
    }
  }
  if (!decided) prog.push(insn(ALU32_MOV_K, R0, 0, 0, 1), insn(JMP_EXIT, 0, 0, 0, 0));
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf[i * 8] = p.code;
    buf[i * 8 + 1] = ((p.src & 0xf) << 4) | (p.dst & 0xf);
    buf.writeInt16LE(p.off, i * 8 + 2);
    buf.writeInt32LE(p.imm | 0, i * 8 + 4);
  });
  return buf;
}
