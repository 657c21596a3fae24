// The one door to the kernel. Everything in tsrun that needs a system call takes a `Sys`;
// `LinuxSys` (linux.ts) is the real one, `RecordingSys` (recording.ts) the double for unit tests.
// All methods are synchronous: they are also what the forked init runs, where no event loop exists.
// Every failing call throws a SyscallError {call, errno, code, path}.

export interface StatInfo {
  mode: number; // type and permission bits (S_IF*)
  uid: number;
  gid: number;
  size: bigint;
  ino: bigint;
  dev: { major: number; minor: number };
  rdev: { major: number; minor: number };
  nlink: number;
  mtimeNs: bigint;
}

export interface WaitResult {
  pid: number; // 0 with WNOHANG when nothing changed
  status: number; // raw wait status
}

export interface NativeMemory {
  readonly addr: bigint;
  readonly size: number;
  write(offset: number, data: Buffer): void;
  read(offset: number, length: number): Buffer;
  /** Idempotent. */
  free(): void;
}

export interface Sys {
  // --- processes
  /** glibc fork() right after MADV_DOFORK over the whole address space (DESIGN.md §2); Node must run --single-threaded. */
  fork(): number;
  /**
   * clone3(CLONE_INTO_CGROUP): a fork born in the cgroup2 directory `cgroupFd`, with no cgroup.procs
   * write (whose first use after a quiet spell waits an RCU grace period). A raw system call, so no
   * atfork handlers: only from a single-threaded process (a stage already forked from Node).
   */
  cloneIntoCgroup(cgroupFd: number): number;
  exit(code: number): never;
  /** Only returns by throwing. */
  execve(path: string, argv: string[], envp: string[]): never;
  /** execveat(2), e.g. a memfd with AT_EMPTY_PATH and path ''. Only returns by throwing. */
  execveat(dirfd: number, path: string, argv: string[], envp: string[], flags: number): never;
  /** execvp-like: searches `PATH` from `envp` when `file` has no slash. Only returns by throwing. */
  execvpe(file: string, argv: string[], envp: string[]): never;
  waitpid(pid: number, flags?: number): WaitResult;
  getpid(): number;
  getppid(): number;
  getuid(): number;
  geteuid(): number;
  getgid(): number;
  kill(pid: number, sig: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, sig: number): void;
  setsid(): number;
  prctl(option: number, arg2?: number, arg3?: number, arg4?: number, arg5?: number): number;
  /** Reset every signal disposition to default and unblock all signals (before execve). */
  resetSignals(): void;
  /** Block (true) or unblock (false) every signal for the calling thread. */
  blockAllSignals(block: boolean): void;
  /** signal(2) with a handler that is machine code at `address` in this process (see mapCode). */
  setSignalHandler(sig: number, address: number): void;
  /** Copies machine code into a new read-and-execute mapping (mmap, mprotect); its address. */
  mapCode(code: Buffer): number;

  // --- namespaces and identity
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;
  setresuid(r: number, e: number, s: number): void;
  setresgid(r: number, e: number, s: number): void;
  setgroups(gids: number[]): void;
  umask(mask: number): number;
  /** capset with version 3: each set is a 64-bit mask (bit n = capability n). */
  capset(effective: bigint, permitted: bigint, inheritable: bigint): void;
  capget(): { effective: bigint; permitted: bigint; inheritable: bigint };
  prlimit(resource: number, soft: bigint, hard: bigint): void;
  getrlimit(resource: number): { soft: bigint; hard: bigint };
  personality(persona: number): number;
  schedSetaffinity(pid: number, cpus: number[]): void;
  ioprioSet(which: number, who: number, ioprio: number): void;
  /** sched_setattr with a struct built by the caller (48 bytes, see sched_setattr(2)). */
  schedSetattr(pid: number, attr: Buffer, flags: number): void;
  seccompSetFilter(flags: number, filter: Buffer): number;

  // --- mounts and the filesystem
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  /** mount_setattr(2): MOUNT_ATTR_* bits to set and clear; `usernsFd` with MOUNT_ATTR_IDMAP. */
  mountSetattr(dirfd: number, path: string, flags: number, attr: { set: number; clear: number; usernsFd?: number }): void;
  /** open_tree(2): with OPEN_TREE_CLONE, a detached copy of the mount (tree) at `path`. */
  openTree(dirfd: number, path: string, flags: number): number;
  /** move_mount(2): attach a mount (e.g. a detached tree fd with MOVE_MOUNT_F_EMPTY_PATH) at `toPath`. */
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chroot(path: string): void;
  chdir(path: string): void;
  fchdir(fd: number): void;
  mkdir(path: string, mode: number): void;
  mkdirat(dirfd: number, path: string, mode: number): void;
  mknodat(dirfd: number, path: string, mode: number, major: number, minor: number): void;
  symlinkat(target: string, dirfd: number, path: string): void;
  unlinkat(dirfd: number, path: string, flags: number): void;
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void;
  fchmodat(dirfd: number, path: string, mode: number): void;
  /** getdents64(2) to the end: the names in a directory fd (without "." and ".."). */
  readdir(dirfd: number): string[];
  /** statx relative to a directory fd (flags: AT_*; AT_EMPTY_PATH with '' stats the fd itself). */
  statat(dirfd: number, path: string, flags: number): StatInfo;
  mknod(path: string, mode: number, major: number, minor: number): void;
  mkfifo(path: string, mode: number): void;
  symlink(target: string, path: string): void;
  link(existing: string, path: string): void;
  unlink(path: string): void;
  rmdir(path: string): void;
  rename(from: string, to: string): void;
  readlink(path: string): string;
  chmod(path: string, mode: number): void;
  fchmod(fd: number, mode: number): void;
  lchown(path: string, uid: number, gid: number): void;
  fchown(fd: number, uid: number, gid: number): void;
  /** utimensat(AT_FDCWD, path, ..., AT_SYMLINK_NOFOLLOW) with nanosecond times. */
  lutimes(path: string, atimeNs: bigint, mtimeNs: bigint): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** statx without following a final symlink. */
  lstat(path: string): StatInfo;
  stat(path: string): StatInfo;
  fstat(fd: number): StatInfo;
  /** statfs f_flags (ST_* bits). */
  statfsFlags(path: string): number;
  access(path: string, mode: number): boolean;

  // --- file descriptors
  open(path: string, flags: number, mode?: number): number;
  openat(dirfd: number, path: string, flags: number, mode?: number): number;
  /** openat2(2); `resolve` is RESOLVE_* bits (IN_ROOT makes symlinks resolve inside dirfd). */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  close(fd: number): void;
  read(fd: number, buf: Buffer, length?: number): number;
  write(fd: number, buf: Buffer | string): number;
  pipe2(flags: number): [number, number];
  /** memfd_create(2): MFD_* flags. */
  memfdCreate(name: string, flags: number): number;
  socketpair(domain: number, type: number, protocol: number): [number, number];
  dup3(oldfd: number, newfd: number, flags: number): number;
  fcntl(fd: number, cmd: number, arg?: number): number;
  closeRange(first: number, last: number, flags: number): void;
  flock(fd: number, op: number): void;
  ioctl(fd: number, request: number, arg: number | Buffer | null): number;
  /** poll(2) on several fds; returns revents per fd (0 = nothing). */
  poll(fds: { fd: number; events: number }[], timeoutMs: number): number[];
  /** sendmsg with one fd as SCM_RIGHTS and `payload` as data. */
  sendFd(sock: number, fd: number, payload: Buffer): void;
  /** recvmsg expecting one SCM_RIGHTS fd; returns the fd and the data received. */
  recvFd(sock: number, maxPayload: number): { fd: number; payload: Buffer };
  /** posix_openpt + grantpt + unlockpt; returns the master fd and the slave path. */
  openpt(flags: number): { master: number; slavePath: string };
  bpf(cmd: number, attr: Buffer): number;
  /** Zeroed native memory at a fixed address, for syscall attributes that carry pointers (bpf). */
  allocNative(size: number): NativeMemory;
  /** socket(2) + connect(2) to a unix stream socket path; returns the connected fd. */
  connectUnix(path: string): number;
  /** Any syscall by number with up to six integer arguments; never throws. For tests and probes. */
  rawSyscall(nr: number, ...args: (number | bigint)[]): { ret: bigint; errno: number };
}
