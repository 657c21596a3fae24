// The real Sys: glibc and raw syscalls through koffi. This file is the only one that names koffi.
// Declarations are made on first use so a command pays only for the calls it makes.
import type { NativeMemory, Sys, StatInfo, WaitResult } from './sys.js';
import { SyscallError } from './errors.js';
import { CLONE, SYSCALL_NR } from './constants.js';
import { nodeRequire as load } from '../node-require.js';

type KoffiFn = (...args: any[]) => any;

let koffi: any;
let libc: any;
const fns = new Map<string, KoffiFn>();

function lib(): any {
  if (!libc) {
    // The native module directly: koffi's JS wrapper only adds deprecated aliases and costs ~6 ms.
    try {
      koffi = load(`@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`);
    } catch {
      koffi = load('koffi');
    }
    libc = koffi.load('libc.so.6');
  }
  return libc;
}

/** Declare (once) and return a libc function by C prototype. */
function fn(proto: string, alias?: string): KoffiFn {
  const key = alias ?? proto;
  let f = fns.get(key);
  if (!f) {
    const l = lib();
    f = (alias ? l.func(...protoParts(proto)) : l.func(proto)) as KoffiFn;
    fns.set(key, f);
  }
  return f;
}

/** For aliases of `syscall`: 'long syscall(long, int, int)' -> ['syscall', 'long', ['long','int','int']]. */
function protoParts(proto: string): [string, string, string[]] {
  const m = /^\s*(.+?)\s*(\w+)\s*\((.*)\)\s*$/.exec(proto);
  if (!m) throw new Error(`bad prototype ${proto}`);
  const args = m[3].trim() === '' ? [] : m[3].split(',').map((s) => s.trim());
  return [m[2], m[1], args];
}

function errno(): number {
  lib();
  return koffi.errno() as number;
}

function check(ret: number | bigint, call: string, path?: string): number {
  if (Number(ret) < 0) throw new SyscallError(call, errno(), path);
  return Number(ret);
}

const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
function nr(name: string): number {
  const n = SYSCALL_NR[arch]?.[name];
  if (n === undefined) throw new Error(`no syscall number for ${name} on ${arch}`);
  return n;
}

/** Declare `syscall` with a fixed argument list under an alias, and call it with the number first. */
function sys(name: string, argTypes: string, ...args: unknown[]): number {
  const f = fn(`long syscall(long${argTypes ? ', ' + argTypes : ''})`, `syscall:${name}:${argTypes}`);
  return Number(f(nr(name), ...args));
}

function cstrArray(list: string[]): (string | null)[] {
  return [...list, null];
}

function makedev(major: number, minor: number): bigint {
  return (BigInt(major & 0xfff) << 8n) | BigInt(minor & 0xff) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n);
}

function parseStatx(buf: Buffer): StatInfo {
  return {
    nlink: buf.readUInt32LE(16),
    uid: buf.readUInt32LE(20),
    gid: buf.readUInt32LE(24),
    mode: buf.readUInt16LE(28),
    ino: buf.readBigUInt64LE(32),
    size: buf.readBigUInt64LE(40),
    mtimeNs: buf.readBigInt64LE(112) * 1_000_000_000n + BigInt(buf.readUInt32LE(120)),
    rdev: { major: buf.readUInt32LE(128), minor: buf.readUInt32LE(132) },
    dev: { major: buf.readUInt32LE(136), minor: buf.readUInt32LE(140) },
  };
}

const STATX_BASIC = 0x7ff;
const AT_EMPTY_PATH = 0x1000;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_FDCWD = -100;
const SCM_RIGHTS = 1;
const SOL_SOCKET = 1;
const MADVISE = 'int madvise(uintptr_t, size_t, int)';
const PAGE_SIZE = 4096;
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MADV_DOFORK = 11;
const SIGCHLD = 17;
// All of user space above the first 64 KiB (not a Smi: computed once here, not per call).
const DOFORK_START = 0x10000;
const DOFORK_LENGTH = 0x7ffffffff000 - DOFORK_START;

let msghdrTypes: { msghdr: any; iovec: any } | undefined;
function msgTypes() {
  if (!msghdrTypes) {
    lib();
    const iovec = koffi.struct('tsrun_iovec', { iov_base: 'void *', iov_len: 'size_t' });
    const msghdr = koffi.struct('tsrun_msghdr', {
      msg_name: 'void *', msg_namelen: 'uint32', msg_iov: 'tsrun_iovec *', msg_iovlen: 'size_t',
      msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int',
    });
    msghdrTypes = { msghdr, iovec };
  }
  return msghdrTypes;
}

export class LinuxSys implements Sys {
  fork(): number {
    // Declare first, then MADV_DOFORK, then fork with no JS in between that could allocate: a heap
    // page V8 maps after the madvise (a first koffi declaration, a lazy compile, a feedback vector
    // made at a function return's budget check) is DONTFORK, missing in the child, which then dies
    // with SIGSEGV (SEGV_MAPERR) on its first write there. Seen under strace: 1 in 72 runs with
    // the old order. So both calls are made from this one function body, back to back.
    const doFork = fn('int fork()');
    const madvise = fn(MADVISE);
    // Fails with EINVAL at [vvar] (VM_IO) and is ignored: every mapping below it, V8's included, is updated.
    madvise(DOFORK_START, DOFORK_LENGTH, MADV_DOFORK);
    return check(doFork(), 'fork');
  }
  cloneIntoCgroup(cgroupFd: number): number {
    // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
    // set_tid, set_tid_size, cgroup (u64 each). No stack: the child goes on from here, as after fork.
    const args = Buffer.alloc(88);
    args.writeBigUInt64LE(BigInt(CLONE.INTO_CGROUP), 0);
    args.writeBigUInt64LE(BigInt(SIGCHLD), 32);
    args.writeBigUInt64LE(BigInt(cgroupFd), 80);
    const clone3 = fn('long syscall(long, void *, size_t)', 'syscall:clone3');
    const number = nr('clone3');
    const madvise = fn(MADVISE);
    madvise(DOFORK_START, DOFORK_LENGTH, MADV_DOFORK); // as in fork(): nothing runs in between that could allocate
    return check(clone3(number, args, 88), 'clone3');
  }
  exit(code: number): never {
    fn('void _exit(int)')(code);
    throw new Error('unreachable');
  }
  execve(path: string, argv: string[], envp: string[]): never {
    fn('int execve(const char *, const char **, const char **)')(path, cstrArray(argv), cstrArray(envp));
    throw new SyscallError('execve', errno(), path);
  }
  execveat(dirfd: number, path: string, argv: string[], envp: string[], flags: number): never {
    fn('int execveat(int, const char *, const char **, const char **, int)')(dirfd, path, cstrArray(argv), cstrArray(envp), flags);
    throw new SyscallError('execveat', errno(), path || undefined);
  }
  execvpe(file: string, argv: string[], envp: string[]): never {
    fn('int execvpe(const char *, const char **, const char **)')(file, cstrArray(argv), cstrArray(envp));
    throw new SyscallError('execvpe', errno(), file);
  }
  waitpid(pid: number, flags = 0): WaitResult {
    const status = [0];
    const f = fn('int waitpid(int, _Out_ int *, int)');
    for (;;) {
      const r = f(pid, status, flags);
      if (r < 0 && errno() === 4) continue; // EINTR
      check(r, 'waitpid');
      return { pid: r, status: status[0] };
    }
  }
  getpid(): number { return fn('int getpid()')(); }
  getppid(): number { return fn('int getppid()')(); }
  getuid(): number { return fn('uint32 getuid()')(); }
  geteuid(): number { return fn('uint32 geteuid()')(); }
  getgid(): number { return fn('uint32 getgid()')(); }
  kill(pid: number, sig: number): void { check(fn('int kill(int, int)')(pid, sig), 'kill', String(pid)); }
  pidfdOpen(pid: number): number { return check(sys('pidfd_open', 'int, uint', pid, 0), 'pidfd_open', String(pid)); }
  pidfdSendSignal(pidfd: number, sig: number): void {
    check(sys('pidfd_send_signal', 'int, int, void *, uint', pidfd, sig, null, 0), 'pidfd_send_signal');
  }
  setsid(): number { return check(fn('int setsid()')(), 'setsid'); }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    return check(fn('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)')(option, a2, a3, a4, a5), `prctl(${option})`);
  }
  resetSignals(): void {
    const signal = fn('void *signal(int, void *)');
    for (let sig = 1; sig <= 64; sig++) {
      if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue; // KILL, STOP, glibc-internal
      signal(sig, null);
    }
    this.blockAllSignals(false);
  }
  blockAllSignals(block: boolean): void {
    const set = Buffer.alloc(128, block ? 0xff : 0);
    check(fn('int sigprocmask(int, const void *, void *)', 'sigprocmask')(2 /* SIG_SETMASK */, set, null), 'sigprocmask');
  }
  setSignalHandler(sig: number, address: number): void {
    check(fn('intptr_t signal(int, uintptr_t)', 'signal:address')(sig, address), 'signal');
  }
  mapCode(code: Buffer): number {
    const size = Math.ceil(code.length / PAGE_SIZE) * PAGE_SIZE;
    const address = check(fn('intptr_t mmap(uintptr_t, size_t, int, int, int, intptr_t)')(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 'mmap');
    fn('uintptr_t memcpy(uintptr_t, const void *, size_t)')(address, code, code.length);
    check(fn('int mprotect(uintptr_t, size_t, int)')(address, size, PROT_READ | PROT_EXEC), 'mprotect');
    return address;
  }

  unshare(flags: number): void { check(fn('int unshare(int)')(flags), 'unshare'); }
  setns(fd: number, nstype: number): void { check(fn('int setns(int, int)')(fd, nstype), 'setns'); }
  sethostname(name: string): void {
    const b = Buffer.from(name);
    check(fn('int sethostname(const void *, size_t)')(b, b.length), 'sethostname', name);
  }
  setdomainname(name: string): void {
    const b = Buffer.from(name);
    check(fn('int setdomainname(const void *, size_t)')(b, b.length), 'setdomainname', name);
  }
  // Raw syscalls for ids: glibc's setxid wrappers broadcast to all threads (fine), but the raw call
  // keeps the single-threaded child free of glibc's signal-based setxid machinery.
  setresuid(r: number, e: number, s: number): void {
    check(fn('int setresuid(uint32, uint32, uint32)')(r, e, s), 'setresuid', `${r}/${e}/${s}`);
  }
  setresgid(r: number, e: number, s: number): void {
    check(fn('int setresgid(uint32, uint32, uint32)')(r, e, s), 'setresgid', `${r}/${e}/${s}`);
  }
  setgroups(gids: number[]): void {
    check(fn('int setgroups(size_t, const uint32 *)')(gids.length, gids.length ? new Uint32Array(gids) : null), 'setgroups');
  }
  umask(mask: number): number { return fn('uint32 umask(uint32)')(mask); }
  capset(effective: bigint, permitted: bigint, inheritable: bigint): void {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(0x20080522, 0); // _LINUX_CAPABILITY_VERSION_3
    const data = Buffer.alloc(24);
    const lo = (v: bigint) => Number(v & 0xffffffffn);
    const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
    data.writeUInt32LE(lo(effective), 0); data.writeUInt32LE(lo(permitted), 4); data.writeUInt32LE(lo(inheritable), 8);
    data.writeUInt32LE(hi(effective), 12); data.writeUInt32LE(hi(permitted), 16); data.writeUInt32LE(hi(inheritable), 20);
    check(sys('capset', 'void *, void *', header, data), 'capset');
  }
  capget(): { effective: bigint; permitted: bigint; inheritable: bigint } {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(0x20080522, 0);
    const data = Buffer.alloc(24);
    check(sys('capget', 'void *, _Inout_ void *', header, data), 'capget');
    const get = (lo: number, hi: number) => BigInt(data.readUInt32LE(lo)) | (BigInt(data.readUInt32LE(hi)) << 32n);
    return { effective: get(0, 12), permitted: get(4, 16), inheritable: get(8, 20) };
  }
  prlimit(resource: number, soft: bigint, hard: bigint): void {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(soft, 0);
    b.writeBigUInt64LE(hard, 8);
    check(fn('int prlimit(int, int, const void *, void *)')(0, resource, b, null), 'prlimit', `resource ${resource}`);
  }
  getrlimit(resource: number): { soft: bigint; hard: bigint } {
    const b = Buffer.alloc(16);
    check(fn('int prlimit(int, int, const void *, _Inout_ void *)', 'prlimit:get')(0, resource, null, b), 'prlimit');
    return { soft: b.readBigUInt64LE(0), hard: b.readBigUInt64LE(8) };
  }
  personality(persona: number): number { return check(fn('int personality(unsigned long)')(persona), 'personality'); }
  schedSetaffinity(pid: number, cpus: number[]): void {
    const mask = Buffer.alloc(128);
    for (const c of cpus) mask[c >> 3] |= 1 << (c & 7);
    check(fn('int sched_setaffinity(int, size_t, const void *)')(pid, mask.length, mask), 'sched_setaffinity');
  }
  ioprioSet(which: number, who: number, ioprio: number): void {
    check(sys('ioprio_set', 'int, int, int', which, who, ioprio), 'ioprio_set');
  }
  schedSetattr(pid: number, attr: Buffer, flags: number): void {
    check(sys('sched_setattr', 'int, const void *, uint', pid, attr, flags), 'sched_setattr');
  }
  seccompSetFilter(flags: number, filter: Buffer): number {
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; } — pointer at offset 8.
    if (!fns.has('syscall:seccomp:filter')) {
      lib();
      koffi.struct('tsrun_sock_fprog', { len: 'uint16', filter: 'void *' });
    }
    const f = fn('long syscall(long, uint, uint, tsrun_sock_fprog *)', 'syscall:seccomp:filter');
    return check(f(nr('seccomp'), 1 /* SECCOMP_SET_MODE_FILTER */, flags, { len: filter.length / 8, filter }), 'seccomp');
  }

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    check(fn('int mount(const char *, const char *, const char *, unsigned long, const char *)')(source, target, fstype, flags, data), 'mount', target);
  }
  mountSetattr(dirfd: number, path: string, flags: number, attr: { set: number; clear: number; usernsFd?: number }): void {
    // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd }
    const buf = Buffer.alloc(32);
    buf.writeBigUInt64LE(BigInt(attr.set), 0);
    buf.writeBigUInt64LE(BigInt(attr.clear), 8);
    buf.writeBigUInt64LE(BigInt(attr.usernsFd ?? 0), 24);
    check(sys('mount_setattr', 'int, const char *, uint, _In_ void *, size_t', dirfd, path, flags, buf, buf.length), 'mount_setattr', path || undefined);
  }
  openTree(dirfd: number, path: string, flags: number): number {
    return check(sys('open_tree', 'int, const char *, uint', dirfd, path, flags), 'open_tree', path);
  }
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void {
    check(sys('move_mount', 'int, const char *, int, const char *, uint', fromDirfd, fromPath, toDirfd, toPath, flags), 'move_mount', toPath);
  }
  umount2(target: string, flags: number): void { check(fn('int umount2(const char *, int)')(target, flags), 'umount2', target); }
  pivotRoot(newRoot: string, putOld: string): void {
    check(sys('pivot_root', 'const char *, const char *', newRoot, putOld), 'pivot_root', newRoot);
  }
  chroot(path: string): void { check(fn('int chroot(const char *)')(path), 'chroot', path); }
  chdir(path: string): void { check(fn('int chdir(const char *)')(path), 'chdir', path); }
  fchdir(fd: number): void { check(fn('int fchdir(int)')(fd), 'fchdir'); }
  mkdir(path: string, mode: number): void { check(fn('int mkdir(const char *, uint32)')(path, mode), 'mkdir', path); }
  mknod(path: string, mode: number, major: number, minor: number): void {
    this.mknodat(AT_FDCWD, path, mode, major, minor);
  }
  mkdirat(dirfd: number, path: string, mode: number): void {
    check(fn('int mkdirat(int, const char *, uint32)')(dirfd, path, mode), 'mkdirat', path);
  }
  mknodat(dirfd: number, path: string, mode: number, major: number, minor: number): void {
    check(fn('int mknodat(int, const char *, uint32, uint64)')(dirfd, path, mode, makedev(major, minor)), 'mknod', path);
  }
  symlinkat(target: string, dirfd: number, path: string): void {
    check(fn('int symlinkat(const char *, int, const char *)')(target, dirfd, path), 'symlink', path);
  }
  unlinkat(dirfd: number, path: string, flags: number): void {
    check(fn('int unlinkat(int, const char *, int)')(dirfd, path, flags), 'unlink', path);
  }
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
    check(fn('int fchownat(int, const char *, uint32, uint32, int)')(dirfd, path, uid, gid, flags), 'chown', path);
  }
  fchmodat(dirfd: number, path: string, mode: number): void {
    check(fn('int fchmodat(int, const char *, uint32, int)')(dirfd, path, mode, 0), 'chmod', path);
  }
  readdir(dirfd: number): string[] {
    const names: string[] = [];
    const buf = Buffer.alloc(32 * 1024);
    for (;;) {
      const n = check(sys('getdents64', 'int, _Out_ void *, uint', dirfd, buf, buf.length), 'getdents64');
      if (n === 0) return names;
      // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
      for (let off = 0; off < n; off += buf.readUInt16LE(off + 16)) {
        const start = off + 19;
        const name = buf.toString('utf8', start, buf.indexOf(0, start));
        if (name !== '.' && name !== '..') names.push(name);
      }
    }
  }
  statat(dirfd: number, path: string, flags: number): StatInfo { return this.statx(dirfd, path, flags, 'stat'); }
  mkfifo(path: string, mode: number): void { check(fn('int mkfifo(const char *, uint32)')(path, mode), 'mkfifo', path); }
  symlink(target: string, path: string): void { check(fn('int symlink(const char *, const char *)')(target, path), 'symlink', path); }
  link(existing: string, path: string): void { check(fn('int link(const char *, const char *)')(existing, path), 'link', path); }
  unlink(path: string): void { check(fn('int unlink(const char *)')(path), 'unlink', path); }
  rmdir(path: string): void { check(fn('int rmdir(const char *)')(path), 'rmdir', path); }
  rename(from: string, to: string): void { check(fn('int rename(const char *, const char *)')(from, to), 'rename', to); }
  readlink(path: string): string {
    const b = Buffer.alloc(4096);
    const n = check(fn('long readlink(const char *, _Out_ void *, size_t)')(path, b, b.length), 'readlink', path);
    return b.subarray(0, n).toString();
  }
  chmod(path: string, mode: number): void { check(fn('int chmod(const char *, uint32)')(path, mode), 'chmod', path); }
  fchmod(fd: number, mode: number): void { check(fn('int fchmod(int, uint32)')(fd, mode), 'fchmod'); }
  lchown(path: string, uid: number, gid: number): void { check(fn('int lchown(const char *, uint32, uint32)')(path, uid, gid), 'lchown', path); }
  fchown(fd: number, uid: number, gid: number): void { check(fn('int fchown(int, uint32, uint32)')(fd, uid, gid), 'fchown'); }
  lutimes(path: string, atimeNs: bigint, mtimeNs: bigint): void {
    const t = Buffer.alloc(32);
    t.writeBigInt64LE(atimeNs / 1_000_000_000n, 0); t.writeBigInt64LE(atimeNs % 1_000_000_000n, 8);
    t.writeBigInt64LE(mtimeNs / 1_000_000_000n, 16); t.writeBigInt64LE(mtimeNs % 1_000_000_000n, 24);
    check(fn('int utimensat(int, const char *, const void *, int)')(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 'utimensat', path);
  }
  lsetxattr(path: string, name: string, value: Buffer): void {
    check(fn('int lsetxattr(const char *, const char *, const void *, size_t, int)')(path, name, value, value.length, 0), 'lsetxattr', `${path} ${name}`);
  }
  private statx(dirfd: number, path: string, flags: number, what: string): StatInfo {
    const b = Buffer.alloc(256);
    check(fn('int statx(int, const char *, int, uint, _Out_ void *)')(dirfd, path, flags, STATX_BASIC, b), what, path || undefined);
    return parseStatx(b);
  }
  lstat(path: string): StatInfo { return this.statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 'lstat'); }
  stat(path: string): StatInfo { return this.statx(AT_FDCWD, path, 0, 'stat'); }
  fstat(fd: number): StatInfo { return this.statx(fd, '', AT_EMPTY_PATH, 'fstat'); }
  statfsFlags(path: string): number {
    const b = Buffer.alloc(120);
    check(fn('int statfs(const char *, _Out_ void *)')(path, b), 'statfs', path);
    return Number(b.readBigUInt64LE(80));
  }
  access(path: string, mode: number): boolean { return fn('int access(const char *, int)')(path, mode) === 0; }

  open(path: string, flags: number, mode = 0): number { return check(fn('int open(const char *, int, uint32)')(path, flags, mode), 'open', path); }
  openat(dirfd: number, path: string, flags: number, mode = 0): number {
    return check(fn('int openat(int, const char *, int, uint32)')(dirfd, path, flags, mode), 'openat', path);
  }
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
    const how = Buffer.alloc(24);
    how.writeBigUInt64LE(BigInt(flags), 0); how.writeBigUInt64LE(BigInt(mode), 8); how.writeBigUInt64LE(BigInt(resolve), 16);
    return check(sys('openat2', 'int, const char *, const void *, size_t', dirfd, path, how, how.length), 'openat2', path);
  }
  close(fd: number): void { check(fn('int close(int)')(fd), 'close'); }
  read(fd: number, buf: Buffer, length = buf.length): number {
    const f = fn('long read(int, _Out_ void *, size_t)');
    for (;;) {
      const r = f(fd, buf, length);
      if (r < 0 && errno() === 4) continue;
      return check(r, 'read');
    }
  }
  write(fd: number, data: Buffer | string): number {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    const f = fn('long write(int, const void *, size_t)');
    for (;;) {
      const r = f(fd, b, b.length);
      if (r < 0 && errno() === 4) continue;
      return check(r, 'write');
    }
  }
  pipe2(flags: number): [number, number] {
    const fds = new Int32Array(2);
    check(fn('int pipe2(_Out_ int *, int)', 'pipe2')(fds, flags), 'pipe2');
    return [fds[0], fds[1]];
  }
  memfdCreate(name: string, flags: number): number {
    return check(fn('int memfd_create(const char *, uint)')(name, flags), 'memfd_create', name);
  }
  socketpair(domain: number, type: number, protocol: number): [number, number] {
    const fds = new Int32Array(2);
    check(fn('int socketpair(int, int, int, _Out_ int *)', 'socketpair')(domain, type, protocol, fds), 'socketpair');
    return [fds[0], fds[1]];
  }
  dup3(oldfd: number, newfd: number, flags: number): number {
    if (oldfd === newfd) return newfd;
    return check(fn('int dup3(int, int, int)')(oldfd, newfd, flags), 'dup3');
  }
  fcntl(fd: number, cmd: number, arg = 0): number { return check(fn('int fcntl(int, int, int)')(fd, cmd, arg), 'fcntl'); }
  closeRange(first: number, last: number, flags: number): void {
    check(sys('close_range', 'uint, uint, uint', first, last, flags), 'close_range');
  }
  flock(fd: number, op: number): void {
    const f = fn('int flock(int, int)');
    for (;;) {
      const r = f(fd, op);
      if (r < 0 && errno() === 4) continue;
      check(r, 'flock');
      return;
    }
  }
  ioctl(fd: number, request: number, arg: number | Buffer | null): number {
    if (arg === null || typeof arg === 'number') return check(fn('int ioctl(int, unsigned long, unsigned long)', 'ioctl:int')(fd, request, arg ?? 0), 'ioctl');
    return check(fn('int ioctl(int, unsigned long, _Inout_ void *)', 'ioctl:buf')(fd, request, arg), 'ioctl');
  }
  poll(fds: { fd: number; events: number }[], timeoutMs: number): number[] {
    const b = Buffer.alloc(8 * fds.length);
    fds.forEach((p, i) => { b.writeInt32LE(p.fd, i * 8); b.writeInt16LE(p.events, i * 8 + 4); });
    const f = fn('int poll(_Inout_ void *, uint64, int)');
    for (;;) {
      const r = f(b, fds.length, timeoutMs);
      if (r < 0 && errno() === 4) continue;
      check(r, 'poll');
      return fds.map((_, i) => b.readInt16LE(i * 8 + 6));
    }
  }
  sendFd(sock: number, fd: number, payload: Buffer): void {
    const { msghdr } = msgTypes();
    const control = Buffer.alloc(24); // CMSG_SPACE(sizeof(int)) on 64-bit
    control.writeBigUInt64LE(20n, 0); // cmsg_len = CMSG_LEN(4)
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(fd, 16);
    const data = payload.length ? payload : Buffer.from([0]);
    const msg = { msg_name: null, msg_namelen: 0, msg_iov: [{ iov_base: data, iov_len: data.length }], msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
    void msghdr;
    check(fn('long sendmsg(int, const tsrun_msghdr *, int)')(sock, msg, 0), 'sendmsg');
  }
  recvFd(sock: number, maxPayload: number): { fd: number; payload: Buffer } {
    // recvmsg needs output buffers whose addresses outlive the call: allocate them in C memory.
    const { msghdr } = msgTypes();
    void msghdr;
    const data = koffi.alloc('uint8', maxPayload);
    const control = koffi.alloc('uint8', 24);
    const iov = koffi.alloc('tsrun_iovec', 1);
    koffi.encode(iov, 'tsrun_iovec', { iov_base: data, iov_len: maxPayload });
    const msg = koffi.alloc('tsrun_msghdr', 1);
    koffi.encode(msg, 'tsrun_msghdr', { msg_name: null, msg_namelen: 0, msg_iov: iov, msg_iovlen: 1, msg_control: control, msg_controllen: 24, msg_flags: 0 });
    try {
      const n = check(fn('long recvmsg(int, void *, int)')(sock, msg, 0x40000000 /* MSG_CMSG_CLOEXEC */), 'recvmsg');
      const ctl = Buffer.from(koffi.decode(control, 'uint8', 24));
      const fd = ctl.readInt32LE(12) === SCM_RIGHTS ? ctl.readInt32LE(16) : -1;
      if (fd < 0) throw new SyscallError('recvmsg (no SCM_RIGHTS fd)', 22);
      return { fd, payload: Buffer.from(koffi.decode(data, 'uint8', n)) };
    } finally {
      koffi.free(data); koffi.free(control); koffi.free(iov); koffi.free(msg);
    }
  }
  openpt(flags: number): { master: number; slavePath: string } {
    const master = check(fn('int posix_openpt(int)')(flags), 'posix_openpt', '/dev/ptmx');
    try {
      check(fn('int grantpt(int)')(master), 'grantpt');
      check(fn('int unlockpt(int)')(master), 'unlockpt');
      const b = Buffer.alloc(128);
      const r = fn('int ptsname_r(int, _Out_ void *, size_t)')(master, b, b.length);
      if (r !== 0) throw new SyscallError('ptsname_r', r);
      return { master, slavePath: b.subarray(0, b.indexOf(0)).toString() };
    } catch (e) {
      this.close(master);
      throw e;
    }
  }
  connectUnix(path: string): number {
    const addr = Buffer.alloc(110); // struct sockaddr_un
    addr.writeUInt16LE(1, 0); // AF_UNIX
    if (Buffer.byteLength(path) > 107) throw new SyscallError('connect', 36 /* ENAMETOOLONG */, path);
    addr.write(path, 2);
    const fd = check(fn('int socket(int, int, int)')(1, 1 | 0o2000000 /* SOCK_STREAM|SOCK_CLOEXEC */, 0), 'socket', path);
    if (fn('int connect(int, const void *, uint32)')(fd, addr, addr.length) < 0) {
      const e = errno();
      this.close(fd);
      throw new SyscallError('connect', e, path);
    }
    return fd;
  }
  rawSyscall(nr: number, ...args: (number | bigint)[]): { ret: bigint; errno: number } {
    const a = [0, 1, 2, 3, 4, 5].map((i) => BigInt(args[i] ?? 0));
    const f = fn('int64 syscall(int64, int64, int64, int64, int64, int64, int64)', 'syscall:raw6');
    const ret = BigInt(f(nr, ...a));
    return { ret, errno: ret < 0n ? errno() : 0 };
  }
  bpf(cmd: number, attr: Buffer): number { return check(sys('bpf', 'int, _Inout_ void *, uint', cmd, attr, attr.length), 'bpf'); }
  allocNative(size: number): NativeMemory {
    lib();
    const ptr = koffi.alloc('uint8', size);
    const view = Buffer.from(koffi.view(ptr, size) as ArrayBuffer);
    view.fill(0);
    let freed = false;
    const inRange = (offset: number, length: number) => {
      if (offset < 0 || offset + length > size) throw new RangeError(`native memory: ${offset}+${length} is outside ${size} bytes`);
    };
    return {
      addr: BigInt(koffi.address(ptr)),
      size,
      write(offset, data) {
        inRange(offset, data.length);
        data.copy(view, offset);
      },
      read(offset, length) {
        inRange(offset, length);
        return Buffer.from(view.subarray(offset, offset + length));
      },
      free() {
        if (freed) return;
        freed = true;
        koffi.free(ptr);
      },
    };
  }
}

export const linuxSys: Sys = new LinuxSys();
