// OCI runtime-spec types (config.json, state, features.json), Linux subset plus the fields of
// v1.1–v1.3. Optional fields are optional exactly where the spec says OPTIONAL. Integers that the
// spec types as uint64 arrive as JS numbers: above 2^53 they are rounded by JSON.parse, and
// 18446744073709551615 (RLIM_INFINITY) becomes 2^64 — consumers treat >= 2^64 - 1 as "unlimited".
import type {
  CapabilityName, ContainerStatus, HookName, IOPriorityClass, MemoryPolicyFlag, MemoryPolicyMode,
  NamespaceType, PersonalityDomain, RlimitType, RootfsPropagation, SchedulerFlag, SchedulerPolicy,
  SeccompAction, SeccompArch, SeccompFlag, SeccompOperator,
} from './names.js';

export type {
  CapabilityName, ContainerStatus, HookName, IOPriorityClass, MemoryPolicyFlag, MemoryPolicyMode,
  NamespaceType, PersonalityDomain, RlimitType, RootfsPropagation, SchedulerFlag, SchedulerPolicy,
  SeccompAction, SeccompArch, SeccompFlag, SeccompOperator,
};

/** config.json */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Root {
  /** Absolute, or relative to the bundle directory. */
  path: string;
  readonly?: boolean;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  args?: string[];
  /** Windows only; accepted and ignored on Linux. */
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: IOPriority;
  execCPUAffinity?: CPUAffinity;
}

export interface Box {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

/** Names are CapabilityName once validated; strings here so configs can be read before that. */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}
export type CapabilitySet = keyof Capabilities;

export interface Rlimit {
  type: RlimitType;
  soft: number;
  hard: number;
}

export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export interface IOPriority {
  class: IOPriorityClass;
  priority: number;
}

export interface CPUAffinity {
  /** CPU list, e.g. "0-3,7". */
  initial?: string;
  final?: string;
}

export interface Mount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
}

export interface IDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds, > 0. */
  timeout?: number;
}

export type Hooks = { [K in HookName]?: Hook[] };

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
  timeOffsets?: Partial<Record<'boottime' | 'monotonic', TimeOffset>>;
  devices?: Device[];
  netDevices?: Record<string, NetDevice>;
  cgroupsPath?: string;
  resources?: Resources;
  intelRdt?: IntelRdt;
  memoryPolicy?: MemoryPolicy;
  personality?: Personality;
  rootfsPropagation?: RootfsPropagation;
  seccomp?: Seccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

export interface Namespace {
  type: NamespaceType;
  /** Join this namespace (absolute path in the runtime's mount namespace) instead of creating one. */
  path?: string;
}

export interface TimeOffset {
  secs?: number;
  nanosecs?: number;
}

export interface Device {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  /** Required unless type is "p". */
  major?: number;
  minor?: number;
  /** Permission bits as a decimal number (0o666 is written 438). */
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface NetDevice {
  /** Name inside the container; the host name when absent. */
  name?: string;
}

export interface Resources {
  devices?: DeviceCgroup[];
  memory?: Memory;
  cpu?: CPU;
  blockIO?: BlockIO;
  hugepageLimits?: HugepageLimit[];
  network?: Network;
  pids?: Pids;
  rdma?: Record<string, Rdma>;
  unified?: Record<string, string>;
}

export interface DeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** Any of "r", "w", "m". */
  access?: string;
}

/** Bytes; -1 means unlimited. */
export interface Memory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface CPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface BlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: WeightDevice[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface WeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface HugepageLimit {
  /** "<size><KB|MB|GB|TB|PB>", e.g. "2MB". */
  pageSize: string;
  limit: number;
}

export interface Network {
  classID?: number;
  priorities?: { name: string; priority: number }[];
}

export interface Pids {
  /** -1 = unlimited; 0 is a valid limit. */
  limit?: number;
}

export interface Rdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface IntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  /** v1.3: lines of the resctrl schemata file. */
  schemata?: string[];
  /** v1.3, replaces enableCMT / enableMBM. */
  enableMonitoring?: boolean;
  /** v1.1–v1.2.1 only. */
  enableCMT?: boolean;
  enableMBM?: boolean;
}

export interface MemoryPolicy {
  mode: MemoryPolicyMode;
  nodes?: string;
  flags?: MemoryPolicyFlag[];
}

export interface Personality {
  domain: PersonalityDomain;
  flags?: string[];
}

export interface Seccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: SeccompFlag[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: Syscall[];
}

export interface Syscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompArg {
  /** Syscall argument number, 0..5. */
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

/**
 * `tsrun state` output: the OCI state plus runc's additions (rootfs, created, owner), which
 * containerd and podman read.
 */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Present when status is created, running or paused. */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations?: Record<string, string>;
  /** runc: absolute path of the container's root filesystem. */
  rootfs?: string;
  /** runc: RFC 3339 creation time with nanoseconds. */
  created?: string;
  /** runc: owner user name ("" when run as root). */
  owner?: string;
}

/** State sent to a seccomp agent over listenerPath. */
export interface ContainerProcessState {
  ociVersion: string;
  fds?: string[];
  pid: number;
  metadata?: string;
  state: State;
}

/** features.json (`tsrun features`). */
export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: LinuxFeatures;
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
}

export interface LinuxFeatures {
  namespaces?: string[];
  capabilities?: string[];
  cgroup?: { v1?: boolean; v2?: boolean; systemd?: boolean; systemdUser?: boolean; rdma?: boolean };
  seccomp?: {
    enabled?: boolean;
    actions?: string[];
    operators?: string[];
    archs?: string[];
    knownFlags?: string[];
    supportedFlags?: string[];
  };
  apparmor?: { enabled?: boolean };
  selinux?: { enabled?: boolean };
  intelRdt?: { enabled?: boolean; schemata?: boolean; monitoring?: boolean };
  memoryPolicy?: { modes?: string[]; flags?: string[] };
  mountExtensions?: { idmap?: { enabled?: boolean } };
  netDevices?: { enabled?: boolean };
}
