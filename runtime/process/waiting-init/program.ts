// The program a container's init becomes once it is ready: it waits for `tsrun start`, then execs
// the container's process. What it does is what the Node init would do from there (init.ts), in
// ~3 KB (most of it errno names) instead of a ~9 MB fork of Node nobody shares once `create` exits.
//
//   argv: [name] only, so that ps shows what waits; envp: [path of the process, its args..., "",
//   its environment...]: the program cuts envp in two where the "" is (the count of args is built in)
//   1. prctl(PR_SET_DUMPABLE, 0): nobody in the container may ptrace it or open its fds via /proc;
//      a handler for every signal whose default is to end the process: as runc's Go init, a
//      created container ends on `kill TERM` even as PID 1 of its namespace (which ignores a
//      signal it has no handler for); the handler re-raises the signal, or exits 128+signal
//      (the Node init runs the same handler while it waits: endingSignalHandlerX86_64)
//   2. open /proc/self/fd/<fifo> for writing: blocks until `start` opens the exec fifo for reading
//   3. write "0" to it (start reads it, then waits for EOF: the fd is close-on-exec), close <fifo>
//   4. seccomp(SECCOMP_SET_MODE_FILTER) when the filter is loaded last (no_new_privs)
//   5. execve(path, args, environment)
// A failing step writes `tsrun init: <what>: <errno name>` to stderr and exits 127, as the Node
// init does after `start` (nobody else is listening by then).
import { Assembler, Cond, Reg } from './x86-64.js';
import { elfExecutable, EM_X86_64, HEADERS_SIZE, LOAD_ADDRESS } from './elf.js';
import { syscallTable } from '../../seccomp/arch.js';
import { procFd } from '../../rootfs/resolve.js';
import { AT, O, PR, SIGNALS, SIGRTMAX, SIGRTMIN, errnoName } from '../../sys/constants.js';

export interface WaitingInitSpec {
  /** The exec fifo, open O_PATH in the init (and not close-on-exec). */
  fifoFd: number;
  /** How many args the process has (its argv, without the path). */
  argCount: number;
  /** A seccomp filter to load right before execve (the process has no_new_privs). */
  seccomp?: { flags: number; filter: Buffer };
}

/** What /proc/PID/comm shows while the init waits. */
export const WAITING_INIT_NAME = 'tsrun-init';
/** The program's envp: what it execs, as its comment at the top says. */
export function waitingInitEnvironment(path: string, proc: { args: string[]; env: string[] }): string[] {
  return [path, ...proc.args, '', ...proc.env];
}

/** Errno names are looked up in a table up to this number; larger ones print as "unknown errno". */
const ERRNO_TABLE_SIZE = 134;
const SECCOMP_SET_MODE_FILTER = 1;
const SA_RESTORER = 0x04000000;
const SIG_SETMASK = 2;
const SIGSET_SIZE = 8;
/** Signals whose default action ends the process (SIGKILL aside, which needs no handler). */
export const ENDING_SIGNALS = [
  ...['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT',
    'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'IO', 'PWR', 'SYS'].map((name) => SIGNALS[name]),
  ...Array.from({ length: SIGRTMAX - SIGRTMIN + 1 }, (_, i) => SIGRTMIN + i),
];
const EXIT_FAILED = 127;

/**
 * The handler for the ENDING_SIGNALS (the signal number in rdi): back to the default action,
 * unblocked, raised again; still here (PID 1 of its namespace ignores a default signal from
 * itself), exit 128+signal. Position-independent: its two structs (a SIG_DFL sigaction and an
 * empty set) are zeroes written over the signal frame on the stack, which it never returns to.
 */
function emitEndingSignalHandler(a: Assembler, sys: (name: string) => void): void {
  const defaultAction = 0; // struct sigaction: handler (SIG_DFL), flags, restorer, mask
  const emptySet = 32;
  for (let off = defaultAction; off < emptySet + SIGSET_SIZE; off += 8) a.zeroStack(off);
  a.mov(Reg.rbx, Reg.rdi);
  a.leaStack(Reg.rsi, defaultAction).movImm(Reg.rdx, 0).movImm(Reg.r10, SIGSET_SIZE);
  sys('rt_sigaction');
  a.movImm(Reg.rdi, SIG_SETMASK).leaStack(Reg.rsi, emptySet).movImm(Reg.rdx, 0).movImm(Reg.r10, SIGSET_SIZE);
  sys('rt_sigprocmask');
  sys('getpid');
  a.mov(Reg.rdi, Reg.rax).mov(Reg.rsi, Reg.rbx);
  sys('kill');
  a.mov(Reg.rdi, Reg.rbx).addImm(Reg.rdi, 128);
  sys('exit_group');
}

/**
 * emitEndingSignalHandler on its own, for an init that waits as Node on x86-64: it maps these
 * bytes executable (Sys.mapCode) and installs them for every ENDING_SIGNALS before it blocks.
 */
export function endingSignalHandlerX86_64(): Buffer {
  const nr = syscallTable('x86_64');
  const a = new Assembler();
  emitEndingSignalHandler(a, (name) => a.movImm(Reg.rax, nr.get(name)!).syscall());
  return a.bytes();
}

/** Constant data placed before the code, each item at a known absolute address. */
class DataSection {
  private readonly parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly base: number) {}

  add(bytes: Buffer | string, align = 1): { address: number; length: number } {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    const pad = (align - (this.size % align)) % align;
    if (pad) this.push(Buffer.alloc(pad));
    const address = this.base + this.size;
    this.push(data);
    return { address, length: data.length };
  }

  /** Its bytes, padded so that code placed after it starts 16-byte aligned. */
  bytes(): Buffer {
    return Buffer.concat([...this.parts, Buffer.alloc(this.padding())]);
  }

  /** Where code placed after it starts. */
  end(): number {
    return this.base + this.size + this.padding();
  }

  private padding(): number {
    return (16 - (this.size % 16)) % 16;
  }

  private push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
  }
}

/** A system call the program makes, with the arguments it passes as constants (others left out). */
export interface ProgramSyscall {
  name: string;
  args: bigint[];
}

export interface WaitingInitProgram {
  /** A static x86-64 ELF executable. */
  elf: Buffer;
  /** Every call from its entry to the process's execve, failure reports included (not the signal handler's). */
  syscalls: ProgramSyscall[];
}

/** The waiting init as a static x86-64 ELF executable, and the system calls it makes. */
export function waitingInitX86_64(spec: WaitingInitSpec): WaitingInitProgram {
  const nr = syscallTable('x86_64');
  const data = new DataSection(LOAD_ADDRESS + HEADERS_SIZE);

  const name = data.add(`${WAITING_INIT_NAME}\0`);
  const fifoPath = data.add(`${procFd(spec.fifoFd)}\0`); // what the Node init opens too
  const started = data.add('0');
  const newline = data.add('\n');
  const messages = {
    open: data.add('tsrun init: start: open exec fifo: '),
    write: data.add('tsrun init: start: write exec fifo: '),
    seccomp: data.add('tsrun init: process: seccomp: '),
    execve: data.add('tsrun init: process: execve '),
    colon: data.add(': '),
    unknown: data.add('unknown errno'),
  };
  const errnoNames = Array.from({ length: ERRNO_TABLE_SIZE }, (_, n) => errnoName(n)); // ASCII
  const namesAt = data.add(errnoNames.join('')).address;
  const errnoTable = new Uint32Array(ERRNO_TABLE_SIZE * 2); // {address, length} per errno (x86-64: little-endian)
  errnoNames.reduce((address, name, n) => {
    errnoTable[2 * n] = address;
    errnoTable[2 * n + 1] = name.length;
    return address + name.length;
  }, namesAt);
  const table = data.add(Buffer.from(errnoTable.buffer), 8);
  let fprog: { address: number } | undefined;
  if (spec.seccomp) {
    const filter = data.add(spec.seccomp.filter, 8);
    const sockFprog = Buffer.alloc(16); // struct sock_fprog { u16 len; struct sock_filter *filter }
    sockFprog.writeUInt16LE(spec.seccomp.filter.length / 8, 0);
    sockFprog.writeBigUInt64LE(BigInt(filter.address), 8);
    fprog = data.add(sockFprog, 8);
  }

  const handled = Buffer.alloc(32); // struct sigaction: handler, flags, restorer, mask; set below
  const action = data.add(handled, 8);
  // The handler is the first code, right after the data.
  const handler = data.end();
  handled.writeBigUInt64LE(BigInt(handler), 0);
  handled.writeBigUInt64LE(BigInt(SA_RESTORER), 8); // x86-64 delivers no signal without one...
  handled.writeBigUInt64LE(BigInt(handler), 16); // ...though this handler never returns to it
  handled.writeBigUInt64LE(0xffffffffffffffffn, 24); // every other signal blocked while it runs

  const a = new Assembler();
  const syscalls: ProgramSyscall[] = [];
  let inHandler = true;
  /** `syscall` with its number in rax; the arguments are already in their registers. */
  const sys = (name: string, args: bigint[] = []) => {
    if (!inHandler) syscalls.push({ name, args });
    a.movImm(Reg.rax, nr.get(name)!).syscall();
  };
  const call = (name: string, ...args: (number | bigint)[]) => {
    const argRegs = [Reg.rdi, Reg.rsi, Reg.rdx, Reg.r10];
    args.forEach((v, i) => a.movImm(argRegs[i], v));
    sys(name, args.map((v) => BigInt.asUintN(64, BigInt(v))));
  };
  let checks = 0;
  /** On a negative result: keep -errno in rbx, the message in r12/r13, and go to `fail`. */
  const failUnlessOk = (message: { address: number; length: number }) => {
    const ok = `ok${checks++}`;
    a.test(Reg.rax).jumpIf(Cond.notSign, ok);
    a.mov(Reg.rbx, Reg.rax).movImm(Reg.r12, message.address).movImm(Reg.r13, message.length).jump('fail');
    a.label(ok);
  };

  emitEndingSignalHandler(a, sys);

  const entry = a.offset;
  inHandler = false;
  call('prctl', PR.SET_DUMPABLE, 0);
  // for (rbx = 1; rbx <= 64; rbx++, r12 >>= 1) if (r12 & 1) rt_sigaction(rbx, &action, NULL, 8)
  a.movImm(Reg.r12, ENDING_SIGNALS.reduce((mask, sig) => mask | (1n << BigInt(sig - 1)), 0n)).movImm(Reg.rbx, 1);
  a.label('signals').testImm(Reg.r12, 1).jumpIf(Cond.equal, 'next-signal');
  a.mov(Reg.rdi, Reg.rbx).movImm(Reg.rsi, action.address).movImm(Reg.rdx, 0).movImm(Reg.r10, SIGSET_SIZE);
  sys('rt_sigaction');
  a.label('next-signal').shr1(Reg.r12).inc(Reg.rbx).cmpImm(Reg.rbx, 64).jumpIf(Cond.belowOrEqual, 'signals');
  call('prctl', PR.SET_NAME, name.address);
  call('openat', AT.FDCWD, fifoPath.address, O.WRONLY | O.CLOEXEC);
  failUnlessOk(messages.open);
  a.mov(Reg.rdi, Reg.rax);
  a.movImm(Reg.rsi, started.address).movImm(Reg.rdx, 1);
  sys('write');
  failUnlessOk(messages.write);
  call('close', spec.fifoFd);
  if (fprog && spec.seccomp) {
    call('seccomp', SECCOMP_SET_MODE_FILTER, spec.seccomp.flags, fprog.address);
    failUnlessOk(messages.seccomp);
  }
  // The stack at entry: argc (1), argv[0], NULL, then envp[]: path, args..., "", environment...
  const path = 24;
  const args = path + 8;
  const cut = args + 8 * spec.argCount;
  a.zeroStack(cut); // the "": now the end of args
  a.loadStack(Reg.rdi, path).leaStack(Reg.rsi, args).leaStack(Reg.rdx, cut + 8);
  sys('execve');

  // execve returned: say which program, then report as any other failure.
  a.mov(Reg.rbx, Reg.rax);
  call('write', 2, messages.execve.address, messages.execve.length);
  a.loadStack(Reg.rsi, path).movImm(Reg.rdx, 0);
  a.label('strlen').cmpByteZero(Reg.rsi, Reg.rdx).jumpIf(Cond.equal, 'strlen-done').inc(Reg.rdx).jump('strlen');
  a.label('strlen-done').movImm(Reg.rdi, 2);
  sys('write', [2n]);
  a.movImm(Reg.r12, messages.colon.address).movImm(Reg.r13, messages.colon.length);

  // rbx = -errno, r12/r13 = what failed: "<message><errno name>\n" on stderr, exit 127.
  a.label('fail');
  a.movImm(Reg.rdi, 2).mov(Reg.rsi, Reg.r12).mov(Reg.rdx, Reg.r13);
  sys('write', [2n]);
  a.mov(Reg.rax, Reg.rbx).neg(Reg.rax);
  a.cmpImm(Reg.rax, ERRNO_TABLE_SIZE).jumpIf(Cond.aboveOrEqual, 'unknown-errno');
  a.loadTable32(Reg.rsi, Reg.rax, table.address).loadTable32(Reg.rdx, Reg.rax, table.address + 4).jump('write-errno');
  a.label('unknown-errno').movImm(Reg.rsi, messages.unknown.address).movImm(Reg.rdx, messages.unknown.length);
  a.label('write-errno').movImm(Reg.rdi, 2);
  sys('write', [2n]);
  call('write', 2, newline.address, 1);
  call('exit_group', EXIT_FAILED);

  const head = data.bytes();
  return { elf: elfExecutable(EM_X86_64, Buffer.concat([head, a.bytes()]), head.length + entry), syscalls };
}
