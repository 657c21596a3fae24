// `tsrun features`: the runtime-spec features.json. The name lists come from spec/names.ts (the
// lists the schema and validator use); SUPPORT says which optional subsystems tsrun implements.
// Keep SUPPORT true to the code: containerd and podman decide what to ask for from it.
import {
  CAPABILITIES, HOOK_NAMES, MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES, MOUNT_OPTIONS, NAMESPACE_TYPES,
  OCI_VERSION, OCI_VERSION_MIN, SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPERATORS,
} from './names.js';
import type { Features } from './types.js';

export const TSRUN_VERSION = '0.1.0';

/** What tsrun implements beyond the core. Owners: cgroups room, seccomp room, rootfs room. */
export const SUPPORT = {
  cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
  seccomp: true,
  /** Flags the seccomp loader passes to seccomp(2); kernel support is checked when loading. */
  seccompFlags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
  apparmor: false,
  selinux: false,
  intelRdt: false,
  /** idmap/ridmap bind mounts (runtime/rootfs/idmapped-trees.ts; root only). */
  idmapMounts: true,
  netDevices: false,
  memoryPolicy: false,
} as const;

export function features(): Features {
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions: [...MOUNT_OPTIONS],
    linux: {
      namespaces: [...NAMESPACE_TYPES],
      capabilities: [...CAPABILITIES],
      cgroup: { ...SUPPORT.cgroup },
      seccomp: {
        enabled: SUPPORT.seccomp,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: [...SECCOMP_ARCHES],
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: SUPPORT.seccomp ? [...SUPPORT.seccompFlags] : [],
      },
      apparmor: { enabled: SUPPORT.apparmor },
      selinux: { enabled: SUPPORT.selinux },
      intelRdt: { enabled: SUPPORT.intelRdt, schemata: SUPPORT.intelRdt, monitoring: SUPPORT.intelRdt },
      ...(SUPPORT.memoryPolicy ? { memoryPolicy: { modes: [...MEMORY_POLICY_MODES], flags: [...MEMORY_POLICY_FLAGS] } } : {}),
      mountExtensions: { idmap: { enabled: SUPPORT.idmapMounts } },
      netDevices: { enabled: SUPPORT.netDevices },
    },
    annotations: {
      'org.opencontainers.runtime-spec.version': OCI_VERSION,
      'dev.tsrun.version': TSRUN_VERSION,
      'dev.tsrun.node.version': process.version,
    },
    potentiallyUnsafeConfigAnnotations: [],
  };
}
