import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deviceFilterProgram, BPF_DEVCG_ACC_MKNOD as M, BPF_DEVCG_ACC_READ as Rd, BPF_DEVCG_ACC_WRITE as W, BPF_DEVCG_DEV_BLOCK as BLK, BPF_DEVCG_DEV_CHAR as CHR } from '../../runtime/cgroups/ebpf.js';
import { effectiveDeviceRules, rulesFromConfig } from '../../runtime/cgroups/devices.js';

// A small interpreter for the instructions the generator uses, run on bpf_cgroup_dev_ctx.
function run(prog: Buffer, type: number, access: number, major: number, minor: number): number {
  const ctx = Buffer.alloc(12);
  ctx.writeUInt32LE((access << 16) | type, 0);
  ctx.writeUInt32LE(major, 4);
  ctx.writeUInt32LE(minor, 8);
  const r = new Array<bigint>(11).fill(0n);
  const u32 = (v: bigint) => v & 0xffffffffn;
  for (let pc = 0, steps = 0; pc < prog.length / 8; pc++, steps++) {
    if (steps > 10000) throw new Error('loop');
    const op = prog[pc * 8], dst = prog[pc * 8 + 1] & 0xf, src = prog[pc * 8 + 1] >> 4;
    const off = prog.readInt16LE(pc * 8 + 2), imm = BigInt(prog.readInt32LE(pc * 8 + 4));
    switch (op) {
      case 0x61: assert.is(src, 1); r[dst] = BigInt(ctx.readUInt32LE(off)); break;
      case 0x54: r[dst] = u32(r[dst] & u32(imm)); break;
      case 0x74: r[dst] = u32(r[dst]) >> imm; break;
      case 0xb4: r[dst] = u32(imm); break;
      case 0xbc: r[dst] = u32(r[src]); break;
      case 0x15: if (r[dst] === BigInt.asUintN(64, imm)) pc += off; break;
      case 0x55: if (r[dst] !== BigInt.asUintN(64, imm)) pc += off; break;
      case 0x95: return Number(r[0]);
      default: throw new Error(`opcode 0x${op.toString(16)}`);
    }
  }
  throw new Error('fell off the end');
}

test('instruction encoding: context loads, then one block per rule, last rule first', () => {
  const p = deviceFilterProgram(rulesFromConfig([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]));
  const hex = (i: number) => p.subarray(i * 8, i * 8 + 8).toString('hex');
  assert.is(hex(0), '6112000000000000', 'r2 = *(u32 *)(r1 + 0)');
  assert.is(hex(1), '54020000ffff0000', 'w2 &= 0xffff');
  assert.is(hex(3), '7403000010000000', 'w3 >>= 16');
  assert.is(hex(4), '6114040000000000', 'r4 = *(u32 *)(r1 + 4)');
  assert.is(hex(5), '6115080000000000', 'r5 = *(u32 *)(r1 + 8)');
  assert.is(hex(6), '5502040002000000', 'if r2 != CHAR goto +4');
  assert.is(hex(7), '5504030001000000', 'if r4 != 1 goto +3');
  assert.is(hex(8), '5505020003000000', 'if r5 != 3 goto +2');
  assert.is(hex(9), 'b400000001000000', 'w0 = 1');
  assert.is(hex(10), '9500000000000000', 'exit');
  assert.is(hex(11), 'b400000000000000', 'deny-all block: w0 = 0');
  assert.is(p.length / 8, 13, 'nothing after a rule that matches everything');
});

test('semantics: deny all, then runc defaults: /dev/null yes, /dev/sda no, mknod any char yes, pts wildcard minor', () => {
  const p = deviceFilterProgram(effectiveDeviceRules([{ allow: false, access: 'rwm' }]));
  assert.is(run(p, CHR, Rd | W, 1, 3), 1, '/dev/null rw');
  assert.is(run(p, CHR, Rd, 1, 5), 1, '/dev/zero');
  assert.is(run(p, BLK, Rd, 8, 0), 0, '/dev/sda read');
  assert.is(run(p, BLK, M, 8, 0), 1, 'mknod of any block device');
  assert.is(run(p, CHR, Rd | W, 136, 7), 1, '/dev/pts/7');
  assert.is(run(p, CHR, Rd, 4, 1), 0, '/dev/tty1');
});

test('semantics: partial access on allow and deny rules; a later rule overrides an earlier one', () => {
  const p = deviceFilterProgram(rulesFromConfig([
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 10, minor: 229, access: 'r' },
    { allow: true, type: 'b', major: 7, access: 'rwm' },
    { allow: false, type: 'b', major: 7, minor: 1, access: 'w' },
  ]));
  assert.is(run(p, CHR, Rd, 10, 229), 1, 'read allowed');
  assert.is(run(p, CHR, Rd | W, 10, 229), 0, 'read+write needs both in one allow rule');
  assert.is(run(p, BLK, Rd, 7, 5), 1, 'loop5 read');
  assert.is(run(p, BLK, Rd, 7, 1), 1, 'loop1 read still allowed');
  assert.is(run(p, BLK, W, 7, 1), 0, 'loop1 write denied by the later rule');
  assert.is(run(p, BLK, Rd | W, 7, 1), 0, 'any denied access in the request denies it');
});

test('semantics: no deny-all rule means the default is allow (as a fresh v1 devices cgroup)', () => {
  const p = deviceFilterProgram(rulesFromConfig([{ allow: false, type: 'c', major: 1, minor: 9, access: 'rwm' }]));
  assert.is(run(p, CHR, Rd, 1, 9), 0);
  assert.is(run(p, CHR, Rd, 1, 8), 1);
  const allowAll = deviceFilterProgram(rulesFromConfig([{ allow: false, access: 'rwm' }, { allow: true, access: 'rwm' }]));
  assert.is(run(allowAll, BLK, Rd | W | M, 8, 0), 1);
});

test.run();
