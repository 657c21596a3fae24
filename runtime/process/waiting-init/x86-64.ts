// Just enough of an x86-64 assembler for the waiting init (program.ts): 64-bit moves, stack
// operands, loads from tables at fixed addresses, tests, forward and backward jumps, `syscall`.
// Each method emits one instruction; its comment gives the Intel syntax it stands for.

export const Reg = {
  rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7,
  r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15,
} as const;
export type Reg = (typeof Reg)[keyof typeof Reg];

/** Condition codes, as in the low nibble of the Jcc opcodes. */
export const Cond = { below: 0x2, aboveOrEqual: 0x3, equal: 0x4, notEqual: 0x5, belowOrEqual: 0x6, sign: 0x8, notSign: 0x9 } as const;
export type Cond = (typeof Cond)[keyof typeof Cond];

const REX_W = 0x48;
const rexR = (r: Reg) => (r >= 8 ? 0x04 : 0);
const rexX = (r: Reg) => (r >= 8 ? 0x02 : 0);
const rexB = (r: Reg) => (r >= 8 ? 0x01 : 0);
const modrm = (mod: number, reg: number, rm: number) => (mod << 6) | ((reg & 7) << 3) | (rm & 7);
const sib = (scale: 1 | 2 | 4 | 8, index: number, base: number) => ([1, 2, 4, 8].indexOf(scale) << 6) | ((index & 7) << 3) | (base & 7);
const RM_SIB = 4; // ModRM.rm = 100: a SIB byte follows
const SIB_NO_BASE = 5; // SIB.base = 101 with mod 00: disp32, no base register

export class Assembler {
  private readonly out: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string }[] = [];

  /**
   * mov reg, imm in the shortest form that holds it: mov r32, imm32 (the upper half cleared) for
   * 0..2^32-1, mov r64, imm32 (sign-extended) for -2^31..-1, movabs r64, imm64 otherwise.
   */
  movImm(reg: Reg, value: number | bigint): this {
    const n = Number(value);
    if (Number.isSafeInteger(n) && n >= 0 && n <= 0xffffffff) {
      if (rexB(reg)) this.out.push(0x40 | rexB(reg));
      this.out.push(0xb8 + (reg & 7));
      return this.imm32(n);
    }
    if (Number.isSafeInteger(n) && n < 0 && n >= -0x80000000) {
      this.out.push(REX_W | rexB(reg), 0xc7, modrm(3, 0, reg));
      return this.imm32(n);
    }
    this.out.push(REX_W | rexB(reg), 0xb8 + (reg & 7));
    const v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0n; i < 64n; i += 8n) this.out.push(Number((v >> i) & 0xffn));
    return this;
  }

  /** mov dst, src */
  mov(dst: Reg, src: Reg): this {
    this.out.push(REX_W | rexR(src) | rexB(dst), 0x89, modrm(3, src, dst));
    return this;
  }

  /** mov reg, [rsp + disp] */
  loadStack(reg: Reg, disp: number): this {
    this.out.push(REX_W | rexR(reg), 0x8b);
    return this.stackOperand(reg, disp);
  }

  /** lea reg, [rsp + disp] */
  leaStack(reg: Reg, disp: number): this {
    this.out.push(REX_W | rexR(reg), 0x8d);
    return this.stackOperand(reg, disp);
  }

  /** mov qword [rsp + disp], 0 */
  zeroStack(disp: number): this {
    this.out.push(REX_W, 0xc7);
    this.stackOperand(0, disp);
    return this.imm32(0);
  }

  /** mov reg32, [index*8 + disp32] (zero-extends into reg): one field of an 8-byte table entry */
  loadTable32(reg: Reg, index: Reg, address: number): this {
    const rex = rexR(reg) | rexX(index);
    if (rex) this.out.push(0x40 | rex);
    this.out.push(0x8b, modrm(0, reg, RM_SIB), sib(8, index, SIB_NO_BASE));
    return this.imm32(address);
  }

  /** cmp byte [base + index], 0 */
  cmpByteZero(base: Reg, index: Reg): this {
    const rex = rexX(index) | rexB(base);
    if (rex) this.out.push(0x40 | rex);
    this.out.push(0x80, modrm(0, 7, RM_SIB), sib(1, index, base), 0x00);
    return this;
  }

  /** test reg, reg */
  test(reg: Reg): this {
    this.out.push(REX_W | rexR(reg) | rexB(reg), 0x85, modrm(3, reg, reg));
    return this;
  }

  /** cmp reg, imm32 (sign-extended) */
  cmpImm(reg: Reg, value: number): this {
    this.out.push(REX_W | rexB(reg), 0x81, modrm(3, 7, reg));
    return this.imm32(value);
  }

  /** add reg, imm32 (sign-extended) */
  addImm(reg: Reg, value: number): this {
    this.out.push(REX_W | rexB(reg), 0x81, modrm(3, 0, reg));
    return this.imm32(value);
  }

  /** test reg, imm32 (sign-extended) */
  testImm(reg: Reg, value: number): this {
    this.out.push(REX_W | rexB(reg), 0xf7, modrm(3, 0, reg));
    return this.imm32(value);
  }

  /** shr reg, 1 */
  shr1(reg: Reg): this {
    this.out.push(REX_W | rexB(reg), 0xd1, modrm(3, 5, reg));
    return this;
  }

  /** neg reg */
  neg(reg: Reg): this {
    this.out.push(REX_W | rexB(reg), 0xf7, modrm(3, 3, reg));
    return this;
  }

  /** inc reg */
  inc(reg: Reg): this {
    this.out.push(REX_W | rexB(reg), 0xff, modrm(3, 0, reg));
    return this;
  }

  /** syscall: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9; the result (or -errno) in rax */
  syscall(): this {
    this.out.push(0x0f, 0x05);
    return this;
  }

  /** jcc label (rel32) */
  jumpIf(cond: Cond, label: string): this {
    this.out.push(0x0f, 0x80 | cond);
    return this.rel32(label);
  }

  /** jmp label (rel32) */
  jump(label: string): this {
    this.out.push(0xe9);
    return this.rel32(label);
  }

  /** Where the next instruction goes, as a byte offset from the start of the code. */
  get offset(): number {
    return this.out.length;
  }

  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.labels.set(name, this.out.length);
    return this;
  }

  /** The machine code, with every jump resolved. */
  bytes(): Buffer {
    const code = Buffer.from(this.out);
    for (const { at, label } of this.fixups) {
      const target = this.labels.get(label);
      if (target === undefined) throw new Error(`undefined label ${label}`);
      code.writeInt32LE(target - (at + 4), at);
    }
    return code;
  }

  private rel32(label: string): this {
    this.fixups.push({ at: this.out.length, label });
    this.out.push(0, 0, 0, 0);
    return this;
  }

  /** ModRM + SIB for [rsp + disp], with an 8-bit displacement when it fits, else a 32-bit one. */
  private stackOperand(reg: number, disp: number): this {
    const short = disp >= -128 && disp <= 127;
    this.out.push(modrm(short ? 1 : 2, reg, RM_SIB), sib(1, Reg.rsp, Reg.rsp));
    if (!short) return this.imm32(disp);
    this.out.push(disp & 0xff);
    return this;
  }

  /** A 32-bit immediate or displacement, little-endian (negative numbers as two's complement). */
  private imm32(value: number): this {
    const v = value >>> 0;
    this.out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    return this;
  }
}
