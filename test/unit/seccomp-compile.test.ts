// The seccomp compiler checked without the kernel: program structure, and decisions of the compiled
// BPF (run in the TS cBPF VM) against a reference interpreter of the OCI semantics.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { compileSeccomp, SeccompError, runFilter, programShape, SECCOMP_FILTER_FLAG } from '../../runtime/seccomp/index.js';
import type { Seccomp } from '../../spec/types.js';
import { AUDIT, RET, expectedAction, prng, randomProfile, INTERESTING } from './seccomp-reference.js';
import x86_64 from '../../runtime/seccomp/tables/x86_64.json' with { type: 'json' };
import x32 from '../../runtime/seccomp/tables/x32.json' with { type: 'json' };
import i386 from '../../runtime/seccomp/tables/i386.json' with { type: 'json' };
import aarch64 from '../../runtime/seccomp/tables/aarch64.json' with { type: 'json' };

const defaultProfile: Seccomp = JSON.parse(readFileSync(new URL('../fixtures/seccomp/default.json', import.meta.url), 'utf8'));

interface Decoded { code: number; jt: number; jf: number; k: number }
function decode(filter: Buffer): Decoded[] {
  const out: Decoded[] = [];
  for (let i = 0; i < filter.length; i += 8) out.push({ code: filter.readUInt16LE(i), jt: filter[i + 2], jf: filter[i + 3], k: filter.readUInt32LE(i + 4) });
  return out;
}

function decide(filter: Buffer, nr: number, args: bigint[] = [], arch = AUDIT.X86_64): number {
  return runFilter(filter, { nr, arch, args }).ret;
}

test('tables: generated, numbers as the kernel assigns them', () => {
  assert.is(x86_64.getppid, 110);
  assert.is(x86_64.read, 0);
  assert.is(i386.getppid, 64);
  assert.is(x32.getppid, 0x40000000 + 110);
  assert.is(aarch64.getppid, 173);
  assert.ok(Object.keys(x86_64).length > 350);
});

test('every jump lands inside the program and moves forward; ends in returns', () => {
  const { filter } = compileSeccomp(defaultProfile, 'x64');
  const insns = decode(filter);
  insns.forEach((ins, i) => {
    if ((ins.code & 7) !== 5) return;
    const targets = ins.code === 0x05 ? [i + 1 + ins.k] : [i + 1 + ins.jt, i + 1 + ins.jf];
    for (const t of targets) assert.ok(t < insns.length, `jump at ${i} to ${t} beyond ${insns.length}`);
  });
  assert.is(insns[insns.length - 1].code, 0x06);
});

test('default profile: small, and decides in a logarithmic number of jumps', () => {
  const t0 = performance.now();
  const { filter } = compileSeccomp(defaultProfile, 'x64');
  const ms = performance.now() - t0;
  const shape = programShape(filter);
  assert.ok(shape.instructions < 1000, `${shape.instructions} instructions`);
  // Plain (argument-less) decisions: arch check + tree. Count distinct decisions per number to bound the tree.
  let worst = 0;
  const nrs = [...Object.values(x86_64), ...Object.values(x32)];
  for (const nr of nrs) worst = Math.max(worst, runFilter(filter, { nr, arch: AUDIT.X86_64, args: [] }).jumps);
  // ranges <= 2 * (named syscalls) + 4; log2 of that for ~440 names is <= 10, +1 arch check, +personality/socket chains
  assert.ok(worst <= 12 + 10, `worst ${worst} jumps`);
  assert.ok(shape.maxJumps <= 25, `max jumps ${shape.maxJumps}`);
  assert.ok(ms < 200, `compile took ${ms} ms`);
});

test('adjacent syscalls with the same action merge into one range', () => {
  const names = Object.entries(x86_64).filter(([, nr]) => nr < 200).map(([n]) => n);
  const merged = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] }, 'x64');
  // Ranges: [0,199] allow, [200, x32 bit) default, [x32 bit, -2] bad arch, [-1] default: 4 returns,
  // 3 jge, plus ld arch / jeq / ld nr / final bad-arch return. Unmerged it would be ~400 instructions.
  const shape = programShape(merged.filter);
  assert.is(shape.instructions, 11);
  assert.is(decide(merged.filter, 0), RET.ALLOW);
  assert.is(decide(merged.filter, 199), RET.ALLOW);
  assert.is(decide(merged.filter, 200), RET.ERRNO + 1);
});

test('search depth is at most ceil(log2(ranges)) + arch check', () => {
  // every other syscall allowed: n alternating ranges
  const names = Object.entries(x86_64).filter(([, nr]) => nr < 300 && nr % 2 === 0).map(([n]) => n);
  const { filter } = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] }, 'x64');
  const ranges = 300 + 2; // alternating 0..299, then the x32 bad-arch range and syscall -1
  const shape = programShape(filter);
  // + the arch check, + at most one `ja` trampoline per tree level whose left half exceeds 255 instructions
  const bound = Math.ceil(Math.log2(ranges)) + 1 + Math.ceil(Math.log2(shape.instructions / 256 + 1));
  assert.ok(shape.maxJumps <= bound, `${shape.maxJumps} > ${bound}`);
  for (let nr = 0; nr < 320; nr++) {
    const want = nr < 300 && nr % 2 === 0 && Object.values(x86_64).includes(nr) ? RET.ALLOW : RET.ERRNO + 1;
    assert.is(decide(filter, nr), want, `nr ${nr}`);
  }
});

test('far targets go through ja trampolines and still decide right', () => {
  // Many conditional rules on low syscalls push the upper half of the tree > 255 instructions away.
  const syscalls: NonNullable<Seccomp['syscalls']> = [];
  for (let i = 0; i < 60; i++) {
    syscalls.push({ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 100 + i, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: i }] });
    syscalls.push({ names: ['write'], action: 'SCMP_ACT_ERRNO', errnoRet: 300 + i, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: i }] });
  }
  syscalls.push({ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 7 });
  const profile: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls };
  const { filter } = compileSeccomp(profile, 'x64');
  const insns = decode(filter);
  assert.ok(insns.length > 600, `${insns.length}`);
  assert.ok(insns.some((i) => i.code === 0x05), 'no ja trampoline emitted');
  for (let i = 0; i < 62; i++) {
    assert.is(decide(filter, 0, [BigInt(i)]), i < 60 ? RET.ERRNO + 100 + i : RET.ALLOW);
    assert.is(decide(filter, 1, [BigInt(i)]), i < 60 ? RET.ERRNO + 300 + i : RET.ALLOW);
  }
  assert.is(decide(filter, 110), RET.ERRNO + 7);
  assert.is(decide(filter, 111), RET.ALLOW);
});

test('actions encode as the kernel expects', () => {
  const cases: [string, number | undefined, number][] = [
    ['SCMP_ACT_KILL', undefined, RET.KILL_THREAD], ['SCMP_ACT_KILL_THREAD', undefined, RET.KILL_THREAD],
    ['SCMP_ACT_KILL_PROCESS', undefined, RET.KILL_PROCESS], ['SCMP_ACT_TRAP', undefined, RET.TRAP],
    ['SCMP_ACT_ERRNO', undefined, RET.ERRNO + 1], ['SCMP_ACT_ERRNO', 13, RET.ERRNO + 13], ['SCMP_ACT_ERRNO', 0, RET.ERRNO],
    ['SCMP_ACT_TRACE', undefined, RET.TRACE + 1], ['SCMP_ACT_TRACE', 4242, RET.TRACE + 4242], ['SCMP_ACT_LOG', undefined, RET.LOG],
  ];
  for (const [action, errnoRet, want] of cases) {
    const p: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getppid'], action: action as never, errnoRet }] };
    assert.is(decide(compileSeccomp(p, 'x64').filter, 110), want, action);
    const d: Seccomp = { defaultAction: action as never, defaultErrnoRet: errnoRet, syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }] };
    assert.is(decide(compileSeccomp(d, 'x64').filter, 110), want, `default ${action}`);
  }
  const n = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }] }, 'x64');
  assert.is(decide(n.filter, 110), RET.USER_NOTIF);
  assert.ok(n.needsListener);
  assert.is(n.flags & SECCOMP_FILTER_FLAG.NEW_LISTENER, SECCOMP_FILTER_FLAG.NEW_LISTENER);
});

test('architectures: bad arch kills; x32 and x86_64 split on __X32_SYSCALL_BIT like libseccomp', () => {
  const only64 = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ALLOW' }] }, 'x64').filter;
  assert.is(decide(only64, 110), RET.ALLOW);
  assert.is(decide(only64, 0x40000000 + 110), RET.KILL_THREAD, 'x32 number in an x86_64-only filter');
  assert.is(decide(only64, 0xffffffff), RET.ERRNO + 1, 'syscall -1 passes to the default');
  assert.is(decide(only64, 64, [], AUDIT.I386), RET.KILL_THREAD, 'i386 not listed');
  assert.is(decide(only64, 173, [], AUDIT.AARCH64), RET.KILL_THREAD);
  const all = compileSeccomp({
    defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ALLOW' }, { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 }],
  }, 'x64').filter;
  assert.is(decide(all, 110), RET.ALLOW);
  assert.is(decide(all, 0x40000000 + 110), RET.ALLOW);
  assert.is(decide(all, 64, [], AUDIT.I386), RET.ALLOW);
  assert.is(decide(all, 20, [], AUDIT.I386), RET.ERRNO + 5, 'i386 getpid');
  assert.is(decide(all, 39), RET.ERRNO + 5);
  assert.is(decide(all, 20), RET.ERRNO + 1, 'x86_64 number 20 is writev: default');
  // the -ENOSYS stub: numbers above the largest named one (getppid) fail softly
  assert.is(decide(all, 111), RET.ERRNO + 38);
  assert.is(decide(all, 0x40000000 + 111), RET.ERRNO + 38);
  assert.is(decide(all, 65, [], AUDIT.I386), RET.ERRNO + 38);
  assert.is(decide(all, 1, [], AUDIT.ARM), RET.KILL_THREAD);
  // aarch64 host: arm listed
  const arm = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'], syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ALLOW' }] }, 'arm64').filter;
  assert.is(decide(arm, 173, [], AUDIT.AARCH64), RET.ALLOW);
  assert.is(decide(arm, 64, [], AUDIT.ARM), RET.ALLOW);
  assert.is(decide(arm, 110, [], AUDIT.X86_64), RET.KILL_THREAD);
  // architectures tsrun has no table for cannot occur on this kernel: accepted, no effect
  const mips = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_MIPS'], syscalls: [] }, 'x64').filter;
  assert.is(decide(mips, 110), RET.ALLOW);
});

test('argument-less rule wins over conditional ones; repeated argument index splits into OR', () => {
  const p: Seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 2, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }] },
      { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 3 },
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 4, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }, { index: 0, op: 'SCMP_CMP_EQ', value: 2 }] },
      { names: ['getuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 1 }, { index: 1, op: 'SCMP_CMP_EQ', value: 2 }] },
      { names: ['getgid'], action: 'SCMP_ACT_ALLOW' }, // same as default: skipped
    ],
  };
  const { filter } = compileSeccomp(p, 'x64');
  assert.is(decide(filter, 110, [1n]), RET.ERRNO + 3);
  assert.is(decide(filter, 110, [0n]), RET.ERRNO + 3);
  assert.is(decide(filter, 39, [1n]), RET.ERRNO + 4);
  assert.is(decide(filter, 39, [2n]), RET.ERRNO + 4);
  assert.is(decide(filter, 39, [3n]), RET.ALLOW);
  assert.is(decide(filter, 102, [1n, 2n]), RET.ERRNO + 5);
  assert.is(decide(filter, 102, [1n, 3n]), RET.ALLOW);
});

test('64-bit comparisons look at both halves (hi, then lo)', () => {
  const cases: [string, bigint, bigint, bigint, boolean][] = [
    ['SCMP_CMP_GT', 0x100000000n, 0x0ffffffffn, 0n, false], ['SCMP_CMP_GT', 0x100000000n, 0x100000001n, 0n, true],
    ['SCMP_CMP_GT', 0x100000005n, 0x200000000n, 0n, true], ['SCMP_CMP_GT', 0x200000000n, 0x1ffffffffn, 0n, false],
    ['SCMP_CMP_GE', 0x100000005n, 0x100000005n, 0n, true], ['SCMP_CMP_GE', 0x100000005n, 0x5n, 0n, false],
    ['SCMP_CMP_LT', 0x100000000n, 0xffffffffn, 0n, true], ['SCMP_CMP_LT', 0x100000000n, 0x100000000n, 0n, false],
    ['SCMP_CMP_LT', 0x200000000n, 0x1ffffffffn, 0n, true], ['SCMP_CMP_LT', 0x1ffffffffn, 0x200000000n, 0n, false], ['SCMP_CMP_LE', 5n, 0x100000004n, 0n, false],
    ['SCMP_CMP_LE', 0x100000004n, 0x100000004n, 0n, true], ['SCMP_CMP_EQ', 5n, 0x100000005n, 0n, false],
    ['SCMP_CMP_NE', 5n, 0x100000005n, 0n, true], ['SCMP_CMP_NE', 0x100000005n, 0x100000005n, 0n, false],
    ['SCMP_CMP_MASKED_EQ', 0xff000000ffn, 0x12000000abn, 0x12000000abn, true],
    // value bits outside the mask are ignored, as libseccomp does: (arg & mask) == (value & mask)
    ['SCMP_CMP_MASKED_EQ', 0xffn, 0x12n, 0x1012n, true], ['SCMP_CMP_MASKED_EQ', 0xffn, 0x13n, 0x1012n, false],
    ['SCMP_CMP_MASKED_EQ', 0xff000000ffn, 0x13000000abn, 0x12000000abn, false],
    ['SCMP_CMP_MASKED_EQ', 0xff000000ffn, 0xee130000ffabn, 0x12000000abn, false], ['SCMP_CMP_MASKED_EQ', 0xff000000ffn, 0xee120000ffabn, 0x12000000abn, true],
  ];
  for (const [op, value, arg, valueTwo, matches] of cases) {
    const p = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 9, args: [{ index: 2, op, value, valueTwo }] }] } as unknown as Seccomp;
    const got = decide(compileSeccomp(p, 'x64').filter, 110, [0n, 0n, arg]);
    assert.is(got, matches ? RET.ERRNO + 9 : RET.ALLOW, `${op} ${value.toString(16)} vs ${arg.toString(16)}`);
  }
});

test('flags: names map to bits, unknown names are refused', () => {
  const f = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'] }, 'x64');
  assert.is(f.flags, SECCOMP_FILTER_FLAG.LOG | SECCOMP_FILTER_FLAG.SPEC_ALLOW | SECCOMP_FILTER_FLAG.TSYNC);
  assert.is(f.needsListener, false);
  const w = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV', 'SECCOMP_FILTER_FLAG_TSYNC'], listenerPath: '/x', syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }] }, 'x64');
  assert.is(w.flags, SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV | SECCOMP_FILTER_FLAG.TSYNC | SECCOMP_FILTER_FLAG.TSYNC_ESRCH | SECCOMP_FILTER_FLAG.NEW_LISTENER);
  assert.throws(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS' as never] }, 'x64'),
    (e: unknown) => e instanceof SeccompError && e.path === 'linux.seccomp.flags[0]');
});

test('bad profiles: SeccompError naming the JSON path', () => {
  const bad: [unknown, string][] = [
    [{ defaultAction: 'SCMP_ACT_NOPE' }, 'linux.seccomp.defaultAction'],
    [{ defaultAction: 'SCMP_ACT_NOTIFY' }, 'linux.seccomp.defaultAction'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }, 'linux.seccomp.architectures[0]'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO' }, { names: ['x'], action: 'bogus' }] }, 'linux.seccomp.syscalls[1].action'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }, 'linux.seccomp.syscalls[0].errnoRet'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 70000 }] }, 'linux.seccomp.syscalls[0].errnoRet'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, op: 'SCMP_CMP_EQ', value: 1 }] }] }, 'linux.seccomp.syscalls[0].args[0].index'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_XX', value: 1 }] }] }, 'linux.seccomp.syscalls[0].args[0].op'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: -1 }] }] }, 'linux.seccomp.syscalls[0].args[0].value'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, op: 'SCMP_CMP_EQ', value: 2 ** 64 }] }] }, 'linux.seccomp.syscalls[0].args[0].value'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_NOTIFY' }] }, 'linux.seccomp.listenerPath'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/x', syscalls: [{ names: ['write'], action: 'SCMP_ACT_NOTIFY' }] }, 'linux.seccomp.syscalls[0].action'],
  ];
  for (const [profile, path] of bad) {
    try {
      compileSeccomp(profile as Seccomp, 'x64');
      assert.unreachable(`${JSON.stringify(profile)} compiled`);
    } catch (e) {
      assert.instance(e, SeccompError);
      assert.is((e as SeccompError).path, path, (e as Error).message);
      assert.ok((e as Error).message.startsWith(path));
    }
  }
  // unknown syscall names are skipped, as runc does
  const ok = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['no_such_call', 'getppid'], action: 'SCMP_ACT_ALLOW' }] }, 'x64');
  assert.is(decide(ok.filter, 110), RET.ALLOW);
});

test('random profiles: compiled BPF agrees with the reference interpreter (VM, many probes)', () => {
  const rand = prng(0x5eccc0);
  const names = ['getppid', 'getpid', 'getuid', 'getgid', 'read', 'write', 'close', 'lseek', 'umask', 'mseal', 'clone3', 'fchmodat2', 'arch_prctl', 'socket'];
  const actions = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_TRACE', 'SCMP_ACT_LOG'];
  const arches = [[], ['SCMP_ARCH_X86_64'], ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], ['SCMP_ARCH_X32'], ['SCMP_ARCH_X86']];
  const tables = { [AUDIT.X86_64]: [x86_64, x32], [AUDIT.I386]: [i386] } as Record<number, Record<string, number>[]>;
  let probes = 0;
  for (let round = 0; round < 300; round++) {
    const profile = randomProfile(rand, {
      names, actions, architectures: arches, errnos: () => 1 + Math.floor(rand() * 200),
      defaults: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'],
    });
    const { filter } = compileSeccomp(profile, 'x64');
    for (let k = 0; k < 60; k++) {
      const audit = rand() < 0.8 ? AUDIT.X86_64 : rand() < 0.8 ? AUDIT.I386 : AUDIT.AARCH64;
      const tabs = tables[audit] ?? [aarch64];
      const table = tabs[Math.floor(rand() * tabs.length)];
      const r = rand();
      const nr = r < 0.7 ? (table[names[Math.floor(rand() * names.length)]] ?? 3) : r < 0.9 ? Math.floor(rand() * 600) + (rand() < 0.3 ? 0x40000000 : 0) : 0xffffffff;
      const args = [0, 1, 2].map(() => (rand() < 0.8 ? INTERESTING[Math.floor(rand() * INTERESTING.length)] : BigInt(Math.floor(rand() * 2 ** 32))));
      const want = expectedAction(profile, 'x64', audit, nr >>> 0, args);
      const got = runFilter(filter, { nr, arch: audit, args }).ret;
      if (got !== want) {
        assert.unreachable(`round ${round}: nr ${nr} arch ${audit.toString(16)} args ${args.map((a) => a.toString(16))}: got ${got.toString(16)} want ${want.toString(16)}\n${JSON.stringify(profile, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
      }
      probes++;
    }
  }
  assert.is(probes, 300 * 60);
});

test.run();
