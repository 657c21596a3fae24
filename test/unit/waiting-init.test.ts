// The waiting-init program: its assembler (bytes checked against objdump), the ELF around it, when
// an init may become it, and how the parent prepares it. Its behaviour in real containers is in
// test/integration/waiting-init.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Assembler, Cond, Reg } from '../../runtime/process/waiting-init/x86-64.js';
import { elfExecutable, EM_X86_64, HEADERS_SIZE, LOAD_ADDRESS } from '../../runtime/process/waiting-init/elf.js';
import { ENDING_SIGNALS, endingSignalHandlerX86_64, waitingInitEnvironment, waitingInitX86_64 } from '../../runtime/process/waiting-init/program.js';
import { endOnSignals, nodeWaitSignalHandler, planWaitingInit, prepareWaitingInit, userNamespaceOwnsProgram, type WaitingInitContext } from '../../runtime/process/waiting-init/index.js';
import { buildInitPlan } from '../../runtime/process/build-plan.js';
import type { InitPlan } from '../../runtime/process/init-plan.js';
import type { RootfsPlan } from '../../runtime/rootfs/index.js';
import { compileSeccomp } from '../../runtime/seccomp/index.js';
import { createRecordingSys } from '../../runtime/sys/recording.js';
import { AT, ERRNO, F_ADD_SEALS, F_SEAL, MFD, PR, SIGNALS } from '../../runtime/sys/constants.js';
import { SyscallError } from '../../runtime/sys/errors.js';
import { defaultSpec } from '../../spec/defaults.js';
import type { Seccomp, Spec } from '../../spec/types.js';

const hex = (b: Buffer) => b.toString('hex').replace(/(..)(?!$)/g, '$1 ');
const docker: Seccomp = JSON.parse(readFileSync(new URL('../fixtures/seccomp/default.json', import.meta.url), 'utf8'));

test('assembler: each instruction encodes as objdump decodes it', () => {
  const cases: [string, (a: Assembler) => Assembler, string][] = [
    ['mov rdi, -100 (imm32, sign-extended)', (a) => a.movImm(Reg.rdi, -100), '48 c7 c7 9c ff ff ff'],
    ['mov r12d, 0x4000cd', (a) => a.movImm(Reg.r12, 0x4000cd), '41 bc cd 00 40 00'],
    ['mov r10d, 8', (a) => a.movImm(Reg.r10, 8), '41 ba 08 00 00 00'],
    ['mov esi, 0xffffffff', (a) => a.movImm(Reg.rsi, 0xffffffff), 'be ff ff ff ff'],
    ['movabs rax, 0x10000000000', (a) => a.movImm(Reg.rax, 2 ** 40), '48 b8 00 00 00 00 00 01 00 00'],
    ['movabs rdx, -(2^40)', (a) => a.movImm(Reg.rdx, -(2 ** 40)), '48 ba 00 00 00 00 00 ff ff ff'],
    ['movabs r12, 2^63 (bigint)', (a) => a.movImm(Reg.r12, 1n << 63n), '49 bc 00 00 00 00 00 00 00 80'],
    ['test r12, 1', (a) => a.testImm(Reg.r12, 1), '49 f7 c4 01 00 00 00'],
    ['shr r12, 1', (a) => a.shr1(Reg.r12), '49 d1 ec'],
    ['mov rdi, rax', (a) => a.mov(Reg.rdi, Reg.rax), '48 89 c7'],
    ['mov rsi, r12', (a) => a.mov(Reg.rsi, Reg.r12), '4c 89 e6'],
    ['mov rdi, [rsp+0x10]', (a) => a.loadStack(Reg.rdi, 16), '48 8b 7c 24 10'],
    ['mov r9, [rsp+0x8]', (a) => a.loadStack(Reg.r9, 8), '4c 8b 4c 24 08'],
    ['lea rsi, [rsp+0x18]', (a) => a.leaStack(Reg.rsi, 24), '48 8d 74 24 18'],
    ['lea rdx, [rsp+0xc8]', (a) => a.leaStack(Reg.rdx, 200), '48 8d 94 24 c8 00 00 00'],
    ['mov qword [rsp+0x20], 0', (a) => a.zeroStack(32), '48 c7 44 24 20 00 00 00 00'],
    ['mov qword [rsp+0xfa0], 0', (a) => a.zeroStack(4000), '48 c7 84 24 a0 0f 00 00 00 00 00 00'],
    ['mov esi, [rax*8+0x400560]', (a) => a.loadTable32(Reg.rsi, Reg.rax, 0x400560), '8b 34 c5 60 05 40 00'],
    ['mov r10d, [r11*8+0x400560]', (a) => a.loadTable32(Reg.r10, Reg.r11, 0x400560), '46 8b 14 dd 60 05 40 00'],
    ['cmp byte [rsi+rdx], 0', (a) => a.cmpByteZero(Reg.rsi, Reg.rdx), '80 3c 16 00'],
    ['cmp byte [r8+r9], 0', (a) => a.cmpByteZero(Reg.r8, Reg.r9), '43 80 3c 08 00'],
    ['test rax, rax', (a) => a.test(Reg.rax), '48 85 c0'],
    ['cmp rax, 0x86', (a) => a.cmpImm(Reg.rax, 0x86), '48 81 f8 86 00 00 00'],
    ['add rdi, 0x80', (a) => a.addImm(Reg.rdi, 128), '48 81 c7 80 00 00 00'],
    ['add r9, -1', (a) => a.addImm(Reg.r9, -1), '49 81 c1 ff ff ff ff'],
    ['neg rax', (a) => a.neg(Reg.rax), '48 f7 d8'],
    ['inc rdx', (a) => a.inc(Reg.rdx), '48 ff c2'],
    ['syscall', (a) => a.syscall(), '0f 05'],
  ];
  for (const [asm, emit, bytes] of cases) assert.is(hex(emit(new Assembler()).bytes()), bytes, asm);
});

test('assembler: jumps resolve forwards and backwards, and a missing label is an error', () => {
  const a = new Assembler().label('top').jumpIf(Cond.notSign, 'next').syscall().label('next').jump('top');
  // jns +2 (over the syscall), then jmp back to 0 from the end of a 5-byte jmp at 8: -13
  assert.is(hex(a.bytes()), '0f 89 02 00 00 00 0f 05 e9 f3 ff ff ff');
  assert.throws(() => new Assembler().jump('nowhere').bytes(), /undefined label nowhere/);
  assert.throws(() => new Assembler().label('x').label('x'), /defined twice/);
});

test('ELF: a static executable loaded whole at LOAD_ADDRESS, entry inside the body, stack not executable', () => {
  const body = Buffer.from([0x90, 0x90, 0x0f, 0x05]);
  const elf = elfExecutable(EM_X86_64, body, 2);
  assert.is(elf.subarray(0, 4).toString('latin1'), '\x7fELF');
  assert.is(elf.readUInt16LE(16), 2, 'ET_EXEC');
  assert.is(elf.readUInt16LE(18), EM_X86_64);
  assert.is(Number(elf.readBigUInt64LE(24)), LOAD_ADDRESS + HEADERS_SIZE + 2, 'entry');
  assert.is(elf.readUInt16LE(56), 2, 'two program headers');
  const load = 64;
  assert.is(elf.readUInt32LE(load), 1, 'PT_LOAD');
  assert.is(elf.readUInt32LE(load + 4), 5, 'read + execute');
  assert.is(Number(elf.readBigUInt64LE(load + 16)), LOAD_ADDRESS);
  assert.is(Number(elf.readBigUInt64LE(load + 32)), elf.length, 'the whole file');
  assert.is(elf.readUInt32LE(load + 56), 0x6474e551, 'PT_GNU_STACK');
  assert.is(elf.readUInt32LE(load + 56 + 4), 6, 'stack read + write, not execute');
  assert.equal([...elf.subarray(HEADERS_SIZE)], [...body]);
});

test('program: the fifo it opens, a late seccomp filter it loads, and where it cuts its envp', () => {
  const plain = waitingInitX86_64({ fifoFd: 17, argCount: 2 }).elf;
  assert.ok(plain.includes('/proc/self/fd/17\0'));
  assert.ok(plain.includes('tsrun-init\0'));
  const filter = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }).filter;
  const late = waitingInitX86_64({ fifoFd: 17, argCount: 2, seccomp: { flags: 0, filter } }).elf;
  assert.ok(late.includes(filter), 'the filter is in the program');
  assert.ok(late.length > plain.length + filter.length);
  // envp = [path, ...args, "", ...env]: the "" is at envp[1 + argCount], stack offset 24 + 8 + 8n.
  assert.equal(waitingInitEnvironment('/bin/sh', { args: ['sh', ''], env: ['A=1'] }), ['/bin/sh', 'sh', '', '', 'A=1']);
  const cut = (n: number) => Buffer.from([0x48, 0xc7, 0x44, 0x24, 32 + 8 * n, 0, 0, 0, 0]); // mov qword [rsp+cut], 0
  assert.ok(plain.includes(cut(2)));
  assert.ok(waitingInitX86_64({ fifoFd: 17, argCount: 5 }).elf.includes(cut(5)));
});

test('program: the calls it makes from its entry, as the seccomp check sees them (not the signal handler\'s)', () => {
  const names = (p: ReturnType<typeof waitingInitX86_64>) => [...new Set(p.syscalls.map((c) => c.name))];
  const plain = waitingInitX86_64({ fifoFd: 17, argCount: 2 });
  assert.equal(names(plain), ['prctl', 'rt_sigaction', 'openat', 'write', 'close', 'execve', 'exit_group']);
  const call = (name: string) => plain.syscalls.find((c) => c.name === name)!;
  assert.equal(call('prctl').args, [BigInt(PR.SET_DUMPABLE), 0n]);
  assert.equal(call('openat').args[0], BigInt.asUintN(64, BigInt(AT.FDCWD)));
  assert.equal(call('close').args, [17n]);
  assert.equal(call('exit_group').args, [127n]);
  const filter = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }).filter;
  assert.ok(names(waitingInitX86_64({ fifoFd: 17, argCount: 2, seccomp: { flags: 0, filter } })).includes('seccomp'));
});

test('signal handler: position-independent (structs on the stack), the same bytes in the program and for an init waiting as Node', () => {
  const handler = endingSignalHandlerX86_64();
  // objdump -D -b binary -mi386:x86-64 -M intel of these bytes:
  const expected = [
    '48 c7 44 24 00 00 00 00 00', // mov QWORD PTR [rsp+0x0],0x0   (struct sigaction: SIG_DFL, ...
    '48 c7 44 24 08 00 00 00 00', // mov QWORD PTR [rsp+0x8],0x0
    '48 c7 44 24 10 00 00 00 00', // mov QWORD PTR [rsp+0x10],0x0
    '48 c7 44 24 18 00 00 00 00', // mov QWORD PTR [rsp+0x18],0x0  ... mask)
    '48 c7 44 24 20 00 00 00 00', // mov QWORD PTR [rsp+0x20],0x0  (an empty sigset)
    '48 89 fb', // mov rbx,rdi
    '48 8d 74 24 00', 'ba 00 00 00 00', '41 ba 08 00 00 00', 'b8 0d 00 00 00', '0f 05', // rt_sigaction(sig, [rsp], NULL, 8)
    'bf 02 00 00 00', '48 8d 74 24 20', 'ba 00 00 00 00', '41 ba 08 00 00 00', 'b8 0e 00 00 00', '0f 05', // rt_sigprocmask(SIG_SETMASK, [rsp+32], NULL, 8)
    'b8 27 00 00 00', '0f 05', // getpid
    '48 89 c7', '48 89 de', 'b8 3e 00 00 00', '0f 05', // kill(pid, sig)
    '48 89 df', '48 81 c7 80 00 00 00', 'b8 e7 00 00 00', '0f 05', // exit_group(sig + 128)
  ];
  assert.is(hex(handler), expected.join(' '));
  const program = waitingInitX86_64({ fifoFd: 17, argCount: 2 }).elf;
  assert.ok(program.includes(handler), 'the program runs the same handler');
  assert.is(nodeWaitSignalHandler('arm64'), undefined);
  assert.equal(nodeWaitSignalHandler('x64'), handler);
});

test('endOnSignals: maps the handler executable, installs it for the ending signals but those Node ignores (PIPE, XFSZ)', () => {
  const sys = createRecordingSys();
  const handler = endingSignalHandlerX86_64();
  endOnSignals(sys, handler);
  assert.equal(sys.calls[0], { call: 'mapCode', args: [handler] });
  const installed = sys.calls.slice(1).map((c) => { assert.is(c.call, 'setSignalHandler'); assert.is(c.args[1], 0x20000); return c.args[0]; });
  assert.equal(installed, ENDING_SIGNALS.filter((s) => s !== SIGNALS.PIPE && s !== SIGNALS.XFSZ));
  assert.ok(installed.includes(SIGNALS.TERM) && installed.includes(SIGNALS.HUP) && installed.includes(64));
  assert.not.ok(installed.includes(SIGNALS.CHLD) || installed.includes(SIGNALS.KILL));

  const noExec = createRecordingSys({ fail: [{ call: 'mapCode', code: 'EPERM' }] });
  endOnSignals(noExec, handler); // e.g. seccomp against PROT_EXEC: waits without it, as before
  assert.equal(noExec.callNames(), ['mapCode']);
});

function plan(edit: (s: Spec) => void = () => {}, seccomp?: { filter: Buffer; flags: number }): InitPlan {
  const spec = defaultSpec();
  edit(spec);
  return buildInitPlan({ spec, rootfs: {} as RootfsPlan, syncFd: 3, parentSyncFd: 4, fifoFd: 17, preserveFds: 0, rootless: false, seccomp }, []);
}
const host = { userNamespaceOwnsProgram: false };
/** Why the init of `p` waits as Node, or undefined when it becomes the program. */
const whyWaitAsNode = (p: InitPlan, ctx: WaitingInitContext) => {
  const planned = planWaitingInit(p, ctx);
  return 'waitAsNode' in planned ? planned.waitAsNode : undefined;
};

test('planWaitingInit: the program by default; Node for startContainer hooks, other arches, an owning user namespace', () => {
  assert.is(whyWaitAsNode(plan(), host), undefined);
  assert.match(whyWaitAsNode(plan((s) => (s.hooks = { startContainer: [{ path: '/bin/true' }] })), host)!, 'startContainer');
  assert.match(whyWaitAsNode(plan(), { ...host, arch: 'arm64' })!, 'arm64');
  assert.match(whyWaitAsNode(plan(), { userNamespaceOwnsProgram: true })!, 'user namespace');
});

test('planWaitingInit: a filter loaded before ready must allow what the program calls; a late one need not', () => {
  const compiled = (profile: Seccomp) => ({ filter: compileSeccomp(profile).filter, flags: 0 });
  const early = (s: Spec) => (s.process!.noNewPrivileges = false); // as containerd and podman ask
  assert.is(plan(early, compiled(docker)).seccomp!.beforeCredentials, true);
  assert.is(whyWaitAsNode(plan(early, compiled(docker)), host), undefined, "Docker's profile allows it");
  const noExecveat = compiled({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['execveat'], action: 'SCMP_ACT_ERRNO' }] });
  assert.match(whyWaitAsNode(plan(early, noExecveat), host)!, 'does not allow execveat');
  const killsPrctl = compiled({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['prctl'], action: 'SCMP_ACT_KILL' }] });
  assert.match(whyWaitAsNode(plan(early, killsPrctl), host)!, 'does not allow prctl');
  const nnp = plan((s) => (s.process!.noNewPrivileges = true), noExecveat);
  assert.is(nnp.seccomp!.beforeCredentials, false);
  assert.is(whyWaitAsNode(nnp, host), undefined, 'loaded by the program itself, right before execve');
});

test('userNamespaceOwnsProgram: only when the user namespace maps both our uid and gid, or is joined', () => {
  const withUserns = (maps?: { uid: number; gid: number }, path?: string) => {
    const s = defaultSpec();
    s.linux!.namespaces!.push(path ? { type: 'user', path } : { type: 'user' });
    if (maps) {
      s.linux!.uidMappings = [{ containerID: 0, hostID: maps.uid, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: maps.gid, size: 65536 }];
    }
    return s;
  };
  const root = { uid: 0, gid: 0 };
  assert.is(userNamespaceOwnsProgram(defaultSpec(), root), false, 'no user namespace');
  assert.is(userNamespaceOwnsProgram(withUserns({ uid: 100000, gid: 100000 }), root), false);
  assert.is(userNamespaceOwnsProgram(withUserns({ uid: 0, gid: 0 }), root), true);
  assert.is(userNamespaceOwnsProgram(withUserns({ uid: 0, gid: 100000 }), root), false, 'gid unmapped');
  assert.is(userNamespaceOwnsProgram(withUserns({ uid: 1000, gid: 1000 }), { uid: 1000, gid: 1000 }), true, 'rootless');
  assert.is(userNamespaceOwnsProgram(withUserns(undefined, '/proc/1/ns/user'), root), true, 'joined: unknown');
});

test('prepareWaitingInit: a sealed, execute-only, close-on-exec memfd; none when the init waits as Node', () => {
  const sys = createRecordingSys();
  const got = prepareWaitingInit(sys, plan(), host);
  assert.equal(got, { fd: 24 });
  assert.equal(sys.callNames(), ['memfdCreate', 'write', 'fchmod', 'fcntl']);
  assert.equal(sys.calls[0].args, ['tsrun-init', MFD.CLOEXEC | MFD.ALLOW_SEALING | MFD.EXEC]);
  assert.equal(sys.calls[2].args, [24, 0o111]);
  assert.equal(sys.calls[3].args, [24, F_ADD_SEALS, F_SEAL.SEAL | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.WRITE]);

  const none = createRecordingSys();
  assert.equal(prepareWaitingInit(none, plan(), { userNamespaceOwnsProgram: true }), { waitAsNode: "the user namespace maps tsrun's own uid and gid" });
  assert.equal(none.calls, []);

  const failing = createRecordingSys({ fail: [{ call: 'fcntl', code: 'EINVAL' }] });
  assert.equal(prepareWaitingInit(failing, plan(), host), { waitAsNode: 'fcntl: EINVAL' });
  assert.equal(failing.callNames().at(-1), 'close', 'the memfd is closed on failure');
});

test('prepareWaitingInit: MFD_EXEC where the kernel knows it (6.3+), none before; Node where memfds may not run', () => {
  let first = true;
  const oldKernel = createRecordingSys({
    results: {
      memfdCreate: () => {
        if (!first) return 25;
        first = false;
        throw new SyscallError('memfd_create', ERRNO.EINVAL, 'tsrun-init');
      },
    },
  });
  assert.equal(prepareWaitingInit(oldKernel, plan(), host), { fd: 25 });
  assert.equal(oldKernel.calls.filter((c) => c.call === 'memfdCreate').map((c) => c.args[1]), [MFD.CLOEXEC | MFD.ALLOW_SEALING | MFD.EXEC, MFD.CLOEXEC | MFD.ALLOW_SEALING]);

  const noexec = createRecordingSys({ fail: [{ call: 'memfdCreate', code: 'EACCES' }] });
  assert.match((prepareWaitingInit(noexec, plan(), host) as { waitAsNode: string }).waitAsNode, /EACCES \(vm.memfd_noexec\?\)/);
  assert.equal(noexec.callNames(), ['memfdCreate']);
});

test.run();
