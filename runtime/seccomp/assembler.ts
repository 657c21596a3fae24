// A classic-BPF assembler with forward labels. Conditional jumps have 8-bit offsets; a branch whose
// target is farther than 255 instructions goes through an unconditional `ja` (32-bit offset) placed
// right after the jump, found by iterating until no jump is out of range.
import { BPF, BPF_MAXINSNS } from './constants.js';

export type Label = number;

interface Insn {
  code: number;
  k: number;
  /** Conditional jumps: label of the true / false branch; undefined = the next instruction. */
  jt?: Label;
  jf?: Label;
  /** `ja`: its target. */
  to?: Label;
}

export class Assembler {
  private readonly insns: Insn[] = [];
  /** label -> index of the instruction it stands before. */
  private readonly labelAt: number[] = [];

  label(): Label {
    this.labelAt.push(-1);
    return this.labelAt.length - 1;
  }

  place(label: Label): void {
    if (this.labelAt[label] !== -1) throw new Error(`label ${label} placed twice`);
    this.labelAt[label] = this.insns.length;
  }

  ldAbs(offset: number): void { this.insns.push({ code: BPF.LD_W_ABS, k: offset }); }
  and(k: number): void { this.insns.push({ code: BPF.ALU_AND_K, k: k >>> 0 }); }
  ret(k: number): void { this.insns.push({ code: BPF.RET_K, k: k >>> 0 }); }
  ja(to: Label): void { this.insns.push({ code: BPF.JMP_JA, k: 0, to }); }
  jeq(k: number, jt?: Label, jf?: Label): void { this.insns.push({ code: BPF.JMP_JEQ_K, k: k >>> 0, jt, jf }); }
  jgt(k: number, jt?: Label, jf?: Label): void { this.insns.push({ code: BPF.JMP_JGT_K, k: k >>> 0, jt, jf }); }
  jge(k: number, jt?: Label, jf?: Label): void { this.insns.push({ code: BPF.JMP_JGE_K, k: k >>> 0, jt, jf }); }
  jset(k: number, jt?: Label, jf?: Label): void { this.insns.push({ code: BPF.JMP_JSET_K, k: k >>> 0, jt, jf }); }

  get length(): number { return this.insns.length; }

  /** Lays the program out and encodes it as struct sock_filter[] (8 bytes each, little endian). */
  assemble(): Buffer {
    const n = this.insns.length;
    const isCond = (i: Insn) => i.code !== BPF.JMP_JA && (i.code & 0x07) === 0x05;
    const farT = new Uint8Array(n);
    const farF = new Uint8Array(n);
    const pos = new Int32Array(n + 1);
    const layout = () => {
      for (let i = 0; i < n; i++) pos[i + 1] = pos[i] + 1 + farT[i] + farF[i];
    };
    const addrOf = (l: Label | undefined, i: number): number => {
      if (l === undefined) return pos[i + 1];
      const at = this.labelAt[l];
      if (at === -1 || at === undefined) throw new Error(`label ${l} never placed`);
      if (at <= i) throw new Error(`backward jump from instruction ${i} to label ${l}`);
      return pos[at];
    };
    for (let changed = true; changed;) {
      changed = false;
      layout();
      for (let i = 0; i < n; i++) {
        const ins = this.insns[i];
        if (!isCond(ins)) continue;
        const from = pos[i] + 1;
        if (!farT[i] && addrOf(ins.jt, i) - from > 255) { farT[i] = 1; changed = true; }
        if (!farF[i] && addrOf(ins.jf, i) - from > 255) { farF[i] = 1; changed = true; }
      }
    }
    const total = pos[n];
    if (total > BPF_MAXINSNS) throw new Error(`filter has ${total} instructions, the kernel allows ${BPF_MAXINSNS}`);
    const out = Buffer.alloc(total * 8);
    // DataView's setters are V8 builtins; Buffer's write*LE check their arguments in JS, which in a
    // short-lived tsrun (interpreted code) took most of the compile time of Docker's profile.
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const put = (at: number, code: number, jt: number, jf: number, k: number) => {
      view.setUint16(at * 8, code, true);
      view.setUint8(at * 8 + 2, jt);
      view.setUint8(at * 8 + 3, jf);
      view.setUint32(at * 8 + 4, k >>> 0, true);
    };
    for (let i = 0; i < n; i++) {
      const ins = this.insns[i];
      const p = pos[i];
      if (ins.code === BPF.JMP_JA) {
        put(p, ins.code, 0, 0, addrOf(ins.to, i) - (p + 1));
      } else if (isCond(ins)) {
        const t = addrOf(ins.jt, i);
        const f = addrOf(ins.jf, i);
        let slot = p + 1;
        let jt = t - (p + 1);
        let jf = f - (p + 1);
        if (farT[i]) { put(slot, BPF.JMP_JA, 0, 0, t - (slot + 1)); jt = slot - (p + 1); slot++; }
        if (farF[i]) { put(slot, BPF.JMP_JA, 0, 0, f - (slot + 1)); jf = slot - (p + 1); slot++; }
        put(p, ins.code, jt, jf, ins.k);
      } else {
        put(p, ins.code, 0, 0, ins.k);
      }
    }
    return out;
  }
}
