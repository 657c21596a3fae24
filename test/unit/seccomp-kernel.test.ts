// Compiled filters loaded into the real kernel, in forked children (DESIGN.md §2: --single-threaded,
// madvise before fork, only Sys calls in the child). Each child loads a filter, makes one probe
// syscall and reports the outcome through its exit status.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linuxSys as sys } from '../../runtime/sys/linux.js';
import { PR } from '../../runtime/sys/constants.js';
import { compileSeccomp, installSeccomp, type CompiledSeccomp } from '../../runtime/seccomp/index.js';
import type { Seccomp } from '../../spec/types.js';
import x86_64 from '../../runtime/seccomp/tables/x86_64.json' with { type: 'json' };
import { AUDIT, RET, expectedAction, prng, randomProfile } from './seccomp-reference.js';

const isX64 = process.arch === 'x64';
const SIGSYS = 31;
const RLIMIT_CORE = 4;
const WNOHANG = 1;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

type Outcome = { exit: number } | { signal: number };

/** Runs `child` in a forked copy (it must end with sys.exit) and waits, killing it after 10 s. */
function inChild(child: () => never): Outcome {
  const pid = sys.fork();
  if (pid === 0) {
    try {
      child();
    } catch {
      sys.exit(99);
    }
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = sys.waitpid(pid, WNOHANG);
    if (r.pid === pid) {
      const sig = r.status & 0x7f;
      return sig ? { signal: sig } : { exit: (r.status >> 8) & 0xff };
    }
    if (Date.now() > deadline) {
      sys.kill(pid, 9);
      sys.waitpid(pid);
      throw new Error('child hung');
    }
    Atomics.wait(sleeper, 0, 0, 1);
  }
}

/** Child body: no core dumps (core_pattern may write into the cwd), no_new_privs, filter, probe. */
function probe(compiled: CompiledSeccomp, nr: number, args: bigint[] = []): Outcome {
  return inChild(() => {
    sys.prctl(PR.SET_DUMPABLE, 0);
    sys.prlimit(RLIMIT_CORE, 0n, 0n);
    sys.prctl(PR.SET_NO_NEW_PRIVS, 1);
    installSeccomp(sys, compiled);
    const r = sys.rawSyscall(nr, ...args.map((a) => BigInt.asIntN(64, a)));
    sys.exit(r.ret < 0n ? 100 + r.errno : 0);
  });
}

// What the probes themselves can fail with when allowed: EBADF, EINVAL, ESPIPE (close/lseek on junk).
const NATURAL_ERRNOS = new Set([9, 22, 29]);

function classifyOutcome(o: Outcome): string {
  if ('signal' in o) return `signal ${o.signal}`;
  if (o.exit === 0 || (o.exit >= 100 && NATURAL_ERRNOS.has(o.exit - 100))) return 'allowed';
  if (o.exit === 99) return 'child threw';
  return `errno ${o.exit - 100}`;
}

function classifyAction(ret: number): string {
  const action = ret & 0xffff0000;
  if (ret === RET.ALLOW || ret === RET.LOG) return 'allowed';
  if ((ret & 0x80000000) !== 0 || action === RET.KILL_THREAD || action === RET.TRAP) return `signal ${SIGSYS}`;
  if (action === RET.ERRNO) return `errno ${ret & 0xffff}`;
  if (action === RET.TRACE) return 'errno 38'; // no tracer attached: the syscall fails with ENOSYS
  return `unexpected action ${ret.toString(16)}`;
}

const allow = (extra: Partial<Seccomp> = {}): Seccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', ...extra });

test('kernel: /proc/self/status shows Seccomp: 2 after install', () => {
  if (!isX64) return;
  const compiled = compileSeccomp(allow({ syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ERRNO' }] }));
  const o = inChild(() => {
    sys.prctl(PR.SET_DUMPABLE, 0);
    sys.prctl(PR.SET_NO_NEW_PRIVS, 1);
    installSeccomp(sys, compiled);
    const fd = sys.open('/proc/self/status', 0);
    const buf = Buffer.alloc(8192);
    const n = sys.read(fd, buf);
    sys.close(fd);
    sys.exit(/\nSeccomp:\s+2\n/.test(buf.subarray(0, n).toString()) ? 0 : 1);
  });
  assert.equal(o, { exit: 0 });
});

test('kernel: every action', () => {
  if (!isX64) return;
  const cases: [string, number | undefined, string][] = [
    ['SCMP_ACT_ALLOW', undefined, 'allowed'], ['SCMP_ACT_LOG', undefined, 'allowed'],
    ['SCMP_ACT_ERRNO', undefined, 'errno 1'], ['SCMP_ACT_ERRNO', 77, 'errno 77'],
    ['SCMP_ACT_TRACE', 5, 'errno 38'],
    ['SCMP_ACT_KILL', undefined, `signal ${SIGSYS}`], ['SCMP_ACT_KILL_THREAD', undefined, `signal ${SIGSYS}`],
    ['SCMP_ACT_KILL_PROCESS', undefined, `signal ${SIGSYS}`], ['SCMP_ACT_TRAP', undefined, `signal ${SIGSYS}`],
  ];
  for (const [action, errnoRet, want] of cases) {
    const p = allow({ syscalls: [{ names: ['getppid'], action: action as never, errnoRet }] });
    assert.is(classifyOutcome(probe(compileSeccomp(p), x86_64.getppid)), want, action);
    assert.is(classifyOutcome(probe(compileSeccomp(p), x86_64.getpid)), 'allowed', `${action}: other syscalls untouched`);
  }
  // as the default action, with the runtime's own exit allowed
  const d = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 61, syscalls: [{ names: ['exit_group', 'exit'], action: 'SCMP_ACT_ALLOW' }] });
  assert.is(classifyOutcome(probe(d, x86_64.getppid)), 'errno 61');
});

test('kernel: flags LOG and SPEC_ALLOW are accepted', () => {
  if (!isX64) return;
  const p = allow({ flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'], syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 }] });
  assert.is(classifyOutcome(probe(compileSeccomp(p), x86_64.getppid)), 'errno 42');
});

test('kernel: every operator with 64-bit values whose halves differ', () => {
  if (!isX64) return;
  const values = [0x100000005n, 0x200000003n, 0xffffffffn, 0x1ffffffffn, 0xfffffffffffffff0n];
  const args = [0x100000005n, 0x100000004n, 0x100000006n, 0x5n, 0x200000005n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn];
  const ops = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
  let n = 0;
  for (const op of ops) {
    for (const value of values) {
      const valueTwo = op === 'SCMP_CMP_MASKED_EQ' ? value & 0x1_0000_0005n : 0n;
      const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 55, args: [{ index: 1, op, value, valueTwo }] }] } as unknown as Seccomp;
      const compiled = compileSeccomp(profile);
      for (const a of args.filter((_, i) => (i + n) % 3 === 0)) {
        const want = classifyAction(expectedAction(profile, 'x64', AUDIT.X86_64, x86_64.getppid, [0n, a]));
        assert.is(classifyOutcome(probe(compiled, x86_64.getppid, [0n, a])), want, `${op} ${value.toString(16)} arg ${a.toString(16)}`);
        n++;
      }
    }
  }
  assert.ok(n > 90, `${n} probes`);
});

test('kernel: random profiles agree with the reference interpreter', () => {
  if (!isX64) return;
  const rand = prng(0xbadc0de);
  // Not getpid: V8 calls it during any GC, so a profile denying it could kill the child at random.
  const probes = ['getppid', 'getuid', 'getgid', 'geteuid', 'getegid', 'gettid', 'sched_yield', 'getpgrp', 'umask', 'close', 'lseek'];
  const errno = () => {
    for (;;) {
      const e = 30 + Math.floor(rand() * 120);
      if (!NATURAL_ERRNOS.has(e)) return e;
    }
  };
  let n = 0;
  for (let round = 0; round < 60; round++) {
    const profile = randomProfile(rand, {
      names: probes,
      actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_TRACE', 'SCMP_ACT_LOG'],
      errnos: errno,
      architectures: [[], ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']],
      defaults: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_LOG', 'SCMP_ACT_KILL'],
    });
    // What the child itself needs after the filter is in place: exiting, and memory for V8.
    profile.syscalls!.unshift({ names: ['exit_group', 'exit', 'mmap', 'munmap', 'mprotect', 'madvise', 'brk', 'futex', 'rt_sigprocmask'], action: 'SCMP_ACT_ALLOW' });
    const compiled = compileSeccomp(profile);
    for (let k = 0; k < 5; k++) {
      const name = probes[Math.floor(rand() * probes.length)];
      const nr = (x86_64 as Record<string, number>)[name];
      const args = [0, 1, 2].map(() => {
        const conds = profile.syscalls!.flatMap((r) => r.args ?? []);
        // half the time reuse a value a condition names (and its neighbours), so rules do match
        if (conds.length && rand() < 0.5) {
          const v = BigInt(conds[Math.floor(rand() * conds.length)].value);
          return BigInt.asUintN(64, v + BigInt(Math.floor(rand() * 3) - 1));
        }
        return BigInt.asUintN(64, BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(Math.floor(rand() * 33)));
      });
      const want = classifyAction(expectedAction(profile, 'x64', AUDIT.X86_64, nr, args));
      const got = classifyOutcome(probe(compiled, nr, args));
      if (got !== want) {
        assert.unreachable(`round ${round} ${name}(${args.map((a) => a.toString(16))}): kernel ${got}, reference ${want}\n${JSON.stringify(profile, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
      }
      n++;
    }
  }
  assert.is(n, 300);
});

// struct seccomp_notif is 80 bytes, seccomp_notif_resp 24: _IOWR('!', 0 / 1, ...)
const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;

test('kernel: SCMP_ACT_NOTIFY hands out a listener; an agent answers the syscall', () => {
  if (!isX64) return;
  const compiled = compileSeccomp(allow({ listenerPath: '/unused', syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }] }));
  assert.ok(compiled.needsListener);
  const [parentEnd, childEnd] = sys.socketpair(1, 1, 0);
  const pid = sys.fork();
  if (pid === 0) {
    try {
      sys.prctl(PR.SET_DUMPABLE, 0);
      sys.prctl(PR.SET_NO_NEW_PRIVS, 1);
      const listener = installSeccomp(sys, compiled);
      sys.sendFd(childEnd, listener, Buffer.from('listener'));
      sys.close(listener);
      const r = sys.rawSyscall(x86_64.getppid);
      sys.exit(r.ret < 0n ? 100 + r.errno : 0);
    } catch {
      sys.exit(99);
    }
  }
  sys.close(childEnd);
  let listener = -1;
  try {
    const got = sys.recvFd(parentEnd, 64);
    listener = got.fd;
    assert.is(got.payload.toString(), 'listener');
    const ready = sys.poll([{ fd: listener, events: 1 /* POLLIN */ }], 5000);
    assert.ok(ready[0] & 1, 'no notification within 5 s');
    const req = Buffer.alloc(80);
    sys.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req);
    assert.is(req.readUInt32LE(8), pid, 'notification pid');
    assert.is(req.readUInt32LE(16), x86_64.getppid, 'notification nr');
    assert.is(req.readUInt32LE(20), AUDIT.X86_64, 'notification arch');
    const resp = Buffer.alloc(24);
    req.copy(resp, 0, 0, 8); // id
    resp.writeInt32LE(-83, 16); // error: the syscall fails with errno 83
    sys.ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
  } finally {
    if (listener >= 0) sys.close(listener);
    sys.close(parentEnd);
    const r = sys.waitpid(pid);
    assert.is((r.status >> 8) & 0xff, 183, `child status ${r.status}`);
  }
});

test.run();
