// Kernel ABI for seccomp filters (include/uapi/linux/seccomp.h, filter.h, audit.h). Syscall numbers
// are not here: they live in tables/*.json, generated from the kernel's tables.

/** Filter return values (the action lives in the high 16 bits, SECCOMP_RET_DATA in the low 16). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;
export const SECCOMP_RET_DATA = 0x0000ffff;
/** The action part of a filter's return value (SECCOMP_RET_ACTION_FULL). */
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;

export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1 << 0,
  LOG: 1 << 1,
  SPEC_ALLOW: 1 << 2,
  NEW_LISTENER: 1 << 3,
  TSYNC_ESRCH: 1 << 4,
  WAIT_KILLABLE_RECV: 1 << 5,
} as const;

export const AUDIT_ARCH = {
  X86_64: 0xc000003e,
  I386: 0x40000003,
  AARCH64: 0xc00000b7,
  ARM: 0x40000028,
} as const;

/** x32 system calls reach the kernel as AUDIT_ARCH_X86_64 with this bit set in the number. */
export const X32_SYSCALL_BIT = 0x40000000;

/** struct seccomp_data: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64 each). */
export const SECCOMP_DATA = { NR: 0, ARCH: 4, ARGS: 16 } as const;

export const ENOSYS = 38;
export const EPERM = 1;

/** Classic BPF opcodes (linux/bpf_common.h) used by the compiler and the VM. */
export const BPF = {
  LD_W_ABS: 0x20,
  ALU_AND_K: 0x54,
  JMP_JA: 0x05,
  JMP_JEQ_K: 0x15,
  JMP_JGT_K: 0x25,
  JMP_JGE_K: 0x35,
  JMP_JSET_K: 0x45,
  RET_K: 0x06,
} as const;
/** BPF_MAXINSNS: the kernel refuses longer programs. */
export const BPF_MAXINSNS = 4096;
