// The one list of each OCI name family tsrun knows. The JSON schema (spec/schema/config.schema.json)
// carries the same lists as enums; compile-schemas.mjs refuses to build when they differ, and
// features() is built from these, so schema, validator and `tsrun features` cannot drift apart.

/** The runtime-spec version tsrun implements (written by `tsrun spec`, reported by `tsrun features`). */
export const OCI_VERSION = '1.3.0';
/** The oldest runtime-spec version whose configs tsrun accepts. */
export const OCI_VERSION_MIN = '1.0.0';

/** Linux capabilities, index = capability number (include/uapi/linux/capability.h, CAP_LAST_CAP 40). */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;
export type CapabilityName = (typeof CAPABILITIES)[number];

/** Capability name -> number, e.g. CAPABILITY_NUMBER.CAP_SYS_ADMIN === 21. */
export const CAPABILITY_NUMBER: Readonly<Record<CapabilityName, number>> = Object.freeze(
  Object.fromEntries(CAPABILITIES.map((name, i) => [name, i])) as Record<CapabilityName, number>,
);

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

/** Namespace type -> CLONE_NEW* flag. */
export const NAMESPACE_CLONE_FLAG: Readonly<Record<NamespaceType, number>> = Object.freeze({
  pid: 0x20000000, network: 0x40000000, mount: 0x00020000, ipc: 0x08000000,
  uts: 0x04000000, user: 0x10000000, cgroup: 0x02000000, time: 0x00000080,
});

/** Hook names in the order the lifecycle runs them. */
export const HOOK_NAMES = [
  'prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** getrlimit(2) resources, value = RLIMIT_* number on Linux (generic/x86/arm ABI). */
export const RLIMIT_NUMBER = Object.freeze({
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
} as const);
export type RlimitType = keyof typeof RLIMIT_NUMBER;
export const RLIMIT_TYPES = Object.keys(RLIMIT_NUMBER) as RlimitType[];

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];
/** Actions whose return value carries an errno (errnoRet / defaultErrnoRet may be set). */
export const SECCOMP_ERRNO_ACTIONS: readonly SeccompAction[] = ['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE'];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

export const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
] as const;
export type SeccompArch = (typeof SECCOMP_ARCHES)[number];

export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;
export type SeccompFlag = (typeof SECCOMP_FLAGS)[number];

/** runc accepts the recursive forms too (containerd's CRI plugin writes rshared / rslave). */
export const ROOTFS_PROPAGATIONS = [
  'private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable',
] as const;
export type RootfsPropagation = (typeof ROOTFS_PROPAGATIONS)[number];

/** linux.devices[].type: char, block, unbuffered char, fifo. */
export const DEVICE_TYPES = ['c', 'b', 'u', 'p'] as const;
/** linux.resources.devices[].type: all, char, block. */
export const DEVICE_CGROUP_TYPES = ['a', 'c', 'b'] as const;

export const SCHEDULER_POLICIES = [
  'SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE',
] as const;
export type SchedulerPolicy = (typeof SCHEDULER_POLICIES)[number];
export const SCHEDULER_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM', 'SCHED_FLAG_DL_OVERRUN', 'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS', 'SCHED_FLAG_UTIL_CLAMP_MIN', 'SCHED_FLAG_UTIL_CLAMP_MAX',
] as const;
export type SchedulerFlag = (typeof SCHEDULER_FLAGS)[number];

export const IOPRIO_CLASSES = ['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE'] as const;
export type IOPriorityClass = (typeof IOPRIO_CLASSES)[number];

export const MEMORY_POLICY_MODES = [
  'MPOL_DEFAULT', 'MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE', 'MPOL_PREFERRED',
  'MPOL_PREFERRED_MANY', 'MPOL_LOCAL',
] as const;
export type MemoryPolicyMode = (typeof MEMORY_POLICY_MODES)[number];
export const MEMORY_POLICY_FLAGS = ['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'] as const;
export type MemoryPolicyFlag = (typeof MEMORY_POLICY_FLAGS)[number];

export const PERSONALITY_DOMAINS = ['LINUX', 'LINUX32'] as const;
export type PersonalityDomain = (typeof PERSONALITY_DOMAINS)[number];

/** linux.timeOffsets keys: the clocks a time namespace can offset. */
export const TIME_NAMESPACE_CLOCKS = ['boottime', 'monotonic'] as const;

/** Container states; `paused` is runc's addition to the OCI four. */
export const CONTAINER_STATUSES = ['creating', 'created', 'running', 'stopped', 'paused'] as const;
export type ContainerStatus = (typeof CONTAINER_STATUSES)[number];

/**
 * Mount option names tsrun recognizes (the runtime-spec table, incl. the recursive mount_setattr
 * forms and idmap/ridmap). Anything else is passed to mount(2) as filesystem data.
 */
export const MOUNT_OPTIONS = [
  'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'idmap',
  'iversion', 'lazytime', 'loud', 'mand', 'noatime', 'nodev', 'nodiratime', 'noexec',
  'noiversion', 'nolazytime', 'nomand', 'norelatime', 'nostrictatime', 'nosuid', 'nosymfollow',
  'private', 'ratime', 'rbind', 'rdev', 'rdiratime', 'relatime', 'remount', 'rexec', 'ridmap',
  'rnoatime', 'rnodev', 'rnodiratime', 'rnoexec', 'rnorelatime', 'rnostrictatime', 'rnosuid',
  'rnosymfollow', 'ro', 'rprivate', 'rrelatime', 'rro', 'rrw', 'rshared', 'rslave', 'rstrictatime',
  'rsuid', 'rsymfollow', 'runbindable', 'rw', 'shared', 'silent', 'slave', 'strictatime', 'suid',
  'symfollow', 'sync', 'tmpcopyup', 'unbindable',
] as const;

/**
 * Enum lists as they appear in the schema's `definitions`: definition name -> list.
 * compile-schemas.mjs and the tests compare these with the schema file.
 */
export const SCHEMA_ENUMS: Readonly<Record<string, readonly (string | number)[]>> = {
  capability: CAPABILITIES,
  namespaceType: NAMESPACE_TYPES,
  rlimitType: RLIMIT_TYPES,
  seccompAction: SECCOMP_ACTIONS,
  seccompOperator: SECCOMP_OPERATORS,
  seccompArch: SECCOMP_ARCHES,
  seccompFlag: SECCOMP_FLAGS,
  rootfsPropagation: ROOTFS_PROPAGATIONS,
  deviceType: DEVICE_TYPES,
  deviceCgroupType: DEVICE_CGROUP_TYPES,
  schedulerPolicy: SCHEDULER_POLICIES,
  schedulerFlag: SCHEDULER_FLAGS,
  ioPriorityClass: IOPRIO_CLASSES,
  memoryPolicyMode: MEMORY_POLICY_MODES,
  memoryPolicyFlag: MEMORY_POLICY_FLAGS,
  personalityDomain: PERSONALITY_DOMAINS,
  timeClock: TIME_NAMESPACE_CLOCKS,
};
