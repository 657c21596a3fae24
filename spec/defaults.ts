// What `tsrun spec` writes: the same example config as `runc spec` (current runc: no ambient
// capabilities; a cgroup namespace when the host runs cgroup v2 only), and its rootless variant.
import { statfsSync } from 'node:fs';
import { OCI_VERSION } from './names.js';
import type { Mount, Spec } from './types.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** True when /sys/fs/cgroup is a cgroup2 mount (unified mode, not hybrid or v1). */
export function isCgroup2Unified(): boolean {
  try {
    return statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

export interface DefaultSpecOptions {
  /** Add a cgroup namespace. Default: only on a cgroup v2 unified host, as runc does. */
  cgroupNamespace?: boolean;
}

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(options: DefaultSpecOptions = {}): Spec {
  const cgroupNamespace = options.cgroupNamespace ?? isCgroup2Unified();
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrun',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts', type: 'devpts', source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [
        { type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' },
        ...(cgroupNamespace ? [{ type: 'cgroup' as const }] : []),
      ],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

export interface RootlessSpecOptions extends DefaultSpecOptions {
  /** Host uid mapped to root in the container. Default: the effective uid. */
  uid?: number;
  /** Host gid mapped to root in the container. Default: the effective gid. */
  gid?: number;
}

/**
 * Like `runc spec --rootless`: a user namespace mapping the caller to root, no network namespace,
 * /sys bind-mounted from the host (sysfs cannot be mounted without owning the network namespace),
 * no uid=/gid= mount options, no cgroup resources.
 */
export function rootlessSpec(options: RootlessSpecOptions = {}): Spec {
  const spec = defaultSpec(options);
  const { namespaces, maskedPaths, readonlyPaths } = spec.linux!;
  // Rebuilt rather than edited so the keys come out in runc's order.
  spec.linux = {
    uidMappings: [{ containerID: 0, hostID: options.uid ?? process.geteuid!(), size: 1 }],
    gidMappings: [{ containerID: 0, hostID: options.gid ?? process.getegid!(), size: 1 }],
    namespaces: [...namespaces!.filter((ns) => ns.type !== 'network' && ns.type !== 'user'), { type: 'user' }],
    maskedPaths,
    readonlyPaths,
  };
  spec.mounts = spec.mounts!.map((m): Mount => {
    if (m.destination === '/sys') {
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    if (!m.options) return m;
    return { ...m, options: m.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid=')) };
  });
  return spec;
}
