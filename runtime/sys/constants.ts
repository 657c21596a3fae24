// Kernel ABI constants used across tsrun. Values are from the Linux uapi headers (x86_64 and
// aarch64 agree on all of these unless a table below says otherwise).

export const CLONE = {
  NEWTIME: 0x00000080,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  /** clone3 only (a 64-bit flag): the child starts in the cgroup2 directory given by fd. */
  INTO_CGROUP: 0x200000000,
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  POSIXACL: 1 << 16,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  KERNMOUNT: 1 << 22,
  I_VERSION: 1 << 23,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

/** statfs f_flags bits (ST_*), used to keep a mount's existing flags on a bind remount. */
export const ST = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, MANDLOCK: 64,
  NOATIME: 1024, NODIRATIME: 2048, RELATIME: 4096, NOSYMFOLLOW: 8192,
} as const;

export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4 } as const;
export const UMOUNT_NOFOLLOW = 8;

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

export const AT = { FDCWD: -100, SYMLINK_NOFOLLOW: 0x100, REMOVEDIR: 0x200, EMPTY_PATH: 0x1000, RECURSIVE: 0x8000 } as const;
/** open_tree(2) and move_mount(2) flags. */
export const OPEN_TREE = { CLONE: 1, CLOEXEC: 0o2000000 } as const;
export const MOVE_MOUNT = { F_EMPTY_PATH: 0x4, T_EMPTY_PATH: 0x40 } as const;
export const RESOLVE = { NO_XDEV: 1, NO_MAGICLINKS: 2, NO_SYMLINKS: 4, BENEATH: 8, IN_ROOT: 16 } as const;

export const S = {
  IFMT: 0o170000, IFSOCK: 0o140000, IFLNK: 0o120000, IFREG: 0o100000, IFBLK: 0o60000,
  IFDIR: 0o40000, IFCHR: 0o20000, IFIFO: 0o10000,
} as const;

export const F = { DUPFD: 0, GETFD: 1, SETFD: 2, GETFL: 3, SETFL: 4, DUPFD_CLOEXEC: 1030 } as const;
export const FD_CLOEXEC = 1;
export const MFD = { CLOEXEC: 1, ALLOW_SEALING: 2, EXEC: 0x10 } as const;
/** fcntl(F_ADD_SEALS / F_GET_SEALS) on a memfd, and the seals. */
export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;
export const F_SEAL = { SEAL: 1, SHRINK: 2, GROW: 4, WRITE: 8 } as const;
export const CLOSE_RANGE_CLOEXEC = 1 << 2;
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;
export const WNOHANG = 1;
export const POLLIN = 1;
export const POLLOUT = 4;
export const POLLHUP = 0x10;

export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  SET_NAME: 15,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_SECCOMP: 22,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
  SET_CHILD_SUBREAPER: 36,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

export const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10,
  SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19,
  TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28,
  IO: 29, POLL: 29, PWR: 30, SYS: 31,
};
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** Syscalls glibc has no wrapper for (or whose wrapper we avoid), by architecture. */
export const SYSCALL_NR: Record<string, Record<string, number>> = {
  x64: {
    pivot_root: 155, seccomp: 317, pidfd_open: 434, pidfd_send_signal: 424, close_range: 436,
    openat2: 437, bpf: 321, ioprio_set: 251, sched_setattr: 314, setns: 308, capset: 126,
    capget: 125, clone3: 435, mount_setattr: 442, open_tree: 428, move_mount: 429, getdents64: 217,
  },
  arm64: {
    pivot_root: 41, seccomp: 277, pidfd_open: 434, pidfd_send_signal: 424, close_range: 436,
    openat2: 437, bpf: 280, ioprio_set: 30, sched_setattr: 274, setns: 268, capset: 91,
    capget: 90, clone3: 435, mount_setattr: 442, open_tree: 428, move_mount: 429, getdents64: 61,
  },
};

/** errno number -> name, for readable errors. */
export const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 8: 'ENOEXEC',
  9: 'EBADF', 10: 'ECHILD', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 15: 'ENOTBLK',
  16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV', 19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL',
  23: 'ENFILE', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY', 27: 'EFBIG', 28: 'ENOSPC', 29: 'ESPIPE',
  30: 'EROFS', 31: 'EMLINK', 32: 'EPIPE', 33: 'EDOM', 34: 'ERANGE', 35: 'EDEADLK', 36: 'ENAMETOOLONG',
  38: 'ENOSYS', 39: 'ENOTEMPTY', 40: 'ELOOP', 61: 'ENODATA', 75: 'EOVERFLOW', 88: 'ENOTSOCK',
  95: 'EOPNOTSUPP', 98: 'EADDRINUSE', 104: 'ECONNRESET', 110: 'ETIMEDOUT', 111: 'ECONNREFUSED',
  116: 'ESTALE', 122: 'EDQUOT',
};
export const ERRNO: Record<string, number> = Object.fromEntries(
  Object.entries(ERRNO_NAMES).map(([n, name]) => [name, Number(n)]),
);

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}
