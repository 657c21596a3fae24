// A small classic-BPF interpreter for seccomp programs (what the kernel's seccomp_run_filters does,
// restricted to the instructions seccomp accepts), and a static measure of the longest path. Used by
// tests and the benchmark to check compiled filters without loading them.
import { SECCOMP_DATA } from './constants.js';

export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  args?: readonly bigint[];
}

export interface RunResult {
  /** The filter's return value (action | data). */
  ret: number;
  /** Instructions executed. */
  steps: number;
  /** Jump instructions executed (conditional and `ja`). */
  jumps: number;
}

function encodeData(d: SeccompData): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(d.nr >>> 0, SECCOMP_DATA.NR);
  b.writeUInt32LE(d.arch >>> 0, SECCOMP_DATA.ARCH);
  b.writeBigUInt64LE(BigInt.asUintN(64, d.instructionPointer ?? 0n), 8);
  for (let i = 0; i < 6; i++) b.writeBigUInt64LE(BigInt.asUintN(64, d.args?.[i] ?? 0n), SECCOMP_DATA.ARGS + 8 * i);
  return b;
}

export function runFilter(filter: Buffer, data: SeccompData): RunResult {
  const mem = encodeData(data);
  const n = filter.length / 8;
  const M = new Uint32Array(16);
  let A = 0, X = 0, pc = 0, steps = 0, jumps = 0;
  for (;;) {
    if (pc >= n) throw new Error(`fell off the end of the program at ${pc}`);
    const code = filter.readUInt16LE(pc * 8);
    const jt = filter[pc * 8 + 2];
    const jf = filter[pc * 8 + 3];
    const k = filter.readUInt32LE(pc * 8 + 4);
    steps++;
    pc++;
    const cls = code & 0x07;
    switch (cls) {
      case 0x00: // LD
        if (code === 0x20) {
          if (k % 4 !== 0 || k + 4 > 64) throw new Error(`bad load offset ${k}`);
          A = mem.readUInt32LE(k);
        } else if (code === 0x00) A = k; // LD IMM
        else if (code === 0x60) A = M[k]; // LD MEM
        else if (code === 0x80) A = 64; // LD W LEN
        else throw new Error(`unsupported load 0x${code.toString(16)}`);
        break;
      case 0x01: // LDX
        if (code === 0x01) X = k;
        else if (code === 0x61) X = M[k];
        else if (code === 0x81) X = 64;
        else throw new Error(`unsupported ldx 0x${code.toString(16)}`);
        break;
      case 0x02: M[k] = A; break; // ST
      case 0x03: M[k] = X; break; // STX
      case 0x04: { // ALU
        const v = code & 0x08 ? X : k;
        switch (code & 0xf0) {
          case 0x00: A = (A + v) >>> 0; break;
          case 0x10: A = (A - v) >>> 0; break;
          case 0x20: A = Number((BigInt(A) * BigInt(v)) & 0xffffffffn); break;
          case 0x30: if (v === 0) return { ret: 0, steps, jumps }; A = Math.floor(A / v) >>> 0; break;
          case 0x40: A = (A | v) >>> 0; break;
          case 0x50: A = (A & v) >>> 0; break;
          case 0x60: A = v >= 32 ? 0 : (A << v) >>> 0; break;
          case 0x70: A = v >= 32 ? 0 : A >>> v; break;
          case 0x80: A = (-A) >>> 0; break;
          case 0x90: if (v === 0) return { ret: 0, steps, jumps }; A = (A % v) >>> 0; break;
          case 0xa0: A = (A ^ v) >>> 0; break;
          default: throw new Error(`unsupported alu 0x${code.toString(16)}`);
        }
        break;
      }
      case 0x05: { // JMP
        jumps++;
        const op = code & 0xf0;
        if (op === 0x00) { pc += k; break; }
        const v = code & 0x08 ? X : k;
        let cond: boolean;
        if (op === 0x10) cond = A === v;
        else if (op === 0x20) cond = A > v;
        else if (op === 0x30) cond = A >= v;
        else if (op === 0x40) cond = (A & v) !== 0;
        else throw new Error(`unsupported jump 0x${code.toString(16)}`);
        pc += cond ? jt : jf;
        break;
      }
      case 0x06: return { ret: (code & 0x18) === 0x10 ? A : k, steps, jumps }; // RET A / RET K
      case 0x07: if (code === 0x07) X = A; else A = X; break; // TAX / TXA
    }
  }
}

export interface ProgramShape {
  instructions: number;
  /** Most jump instructions on any path from the start to a return. */
  maxJumps: number;
  /** Most instructions on any path. */
  maxSteps: number;
}

/** Longest paths, found backwards (every seccomp jump goes forwards, so the program is a DAG). */
export function programShape(filter: Buffer): ProgramShape {
  const n = filter.length / 8;
  const jumps = new Int32Array(n + 1);
  const steps = new Int32Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    const code = filter.readUInt16LE(i * 8);
    const jt = filter[i * 8 + 2];
    const jf = filter[i * 8 + 3];
    const k = filter.readUInt32LE(i * 8 + 4);
    if ((code & 0x07) === 0x06) { jumps[i] = 0; steps[i] = 1; continue; }
    if ((code & 0x07) === 0x05) {
      const targets = code === 0x05 ? [i + 1 + k] : [i + 1 + jt, i + 1 + jf];
      let bj = 0, bs = 0;
      for (const t of targets) {
        if (t >= n) throw new Error(`jump past the end at ${i}`);
        bj = Math.max(bj, jumps[t]);
        bs = Math.max(bs, steps[t]);
      }
      jumps[i] = 1 + bj;
      steps[i] = 1 + bs;
    } else {
      if (i + 1 >= n) throw new Error(`program does not end with a return`);
      jumps[i] = jumps[i + 1];
      steps[i] = 1 + steps[i + 1];
    }
  }
  return { instructions: n, maxJumps: jumps[0], maxSteps: steps[0] };
}

/** One line per instruction, for debugging: "12: jge #0x14 jt 15 jf 13". */
export function disassemble(filter: Buffer): string[] {
  const names: Record<number, string> = { 0x20: 'ld', 0x54: 'and', 0x05: 'ja', 0x15: 'jeq', 0x25: 'jgt', 0x35: 'jge', 0x45: 'jset', 0x06: 'ret' };
  const lines: string[] = [];
  for (let i = 0; i < filter.length / 8; i++) {
    const code = filter.readUInt16LE(i * 8);
    const jt = filter[i * 8 + 2];
    const jf = filter[i * 8 + 3];
    const k = filter.readUInt32LE(i * 8 + 4);
    const name = names[code] ?? `op${code.toString(16)}`;
    if (code === 0x05) lines.push(`${i}: ja ${i + 1 + k}`);
    else if ((code & 0x07) === 0x05) lines.push(`${i}: ${name} #0x${k.toString(16)} jt ${i + 1 + jt} jf ${i + 1 + jf}`);
    else if (code === 0x20) lines.push(`${i}: ld [${k}]`);
    else lines.push(`${i}: ${name} #0x${k.toString(16)}`);
  }
  return lines;
}
