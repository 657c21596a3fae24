// Turns a validated config into the init plan (parent side, before the fork).
import { readFileSync } from 'node:fs';
import type { Sys } from '../sys/sys.js';
import { O } from '../sys/constants.js';
import type { Spec, Hook, Process } from '../../spec/types.js';
import { NAMESPACE_CLONE_FLAG, RLIMIT_NUMBER, type NamespaceType, type RlimitType } from '../../spec/names.js';
import type { InitPlan, NamespaceJoin, RlimitPlan } from './init-plan.js';
import { planCapabilities } from './credentials.js';
import { planAttributes } from './attributes.js';
import type { RootfsPlan } from '../rootfs/index.js';
import { ContainerError } from '../container/errors.js';
import { consoleSizeOf, type ConsolePlan, type WindowSize } from './console.js';

const NS_ORDER: NamespaceType[] = ['user', 'pid', 'network', 'mount', 'ipc', 'uts', 'cgroup', 'time'];

export interface PlanInputs {
  spec: Spec;
  rootfs: RootfsPlan;
  syncFd: number;
  parentSyncFd: number;
  fifoFd: number;
  preserveFds: number;
  /** The caller is not root on the host: user namespace with setgroups=deny. */
  rootless: boolean;
  seccomp?: { filter: Buffer; flags: number; listener?: boolean };
  /** With process.terminal: the connected console socket (or our own socketpair end), and the
   * size to use when process.consoleSize is not set (the caller's terminal, when we proxy it). */
  console?: { socketFd: number; fallbackSize?: WindowSize };
}

let lastCapCache: number | undefined;
function lastCap(): number {
  lastCapCache ??= Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  return lastCapCache;
}

/** Open the namespaces the config joins by path (user first). Caller closes the fds. */
export function openNamespaceJoins(sys: Sys, spec: Spec): NamespaceJoin[] {
  const joins: NamespaceJoin[] = [];
  const byType = new Map((spec.linux?.namespaces ?? []).map((n) => [n.type, n]));
  for (const type of NS_ORDER) {
    const ns = byType.get(type);
    if (!ns?.path) continue;
    try {
      joins.push({ type, fd: sys.open(ns.path, O.RDONLY | O.CLOEXEC), flag: NAMESPACE_CLONE_FLAG[type] });
    } catch (e) {
      for (const j of joins) sys.close(j.fd);
      throw new ContainerError(`linux.namespaces: cannot open ${type} namespace ${ns.path}: ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  }
  return joins;
}

const RLIM_INFINITY = 0xffffffffffffffffn;
/** JSON numbers above 2^53 arrive rounded (2^64-1 becomes 2^64): anything that large is "unlimited". */
function rlimitValue(v: number): bigint {
  const b = BigInt(Math.trunc(v));
  return b >= RLIM_INFINITY ? RLIM_INFINITY : b;
}

/** The user process part of the plan, shared by the init and `exec`. */
export function planProcess(
  process: Process,
  opts: { rootless: boolean; preserveFds: number; spec?: Spec; context?: 'init' | 'exec' },
): InitPlan['process'] {
  const user = process.user ?? { uid: 0, gid: 0 };
  const rlimits: RlimitPlan[] = (process.rlimits ?? []).map((r) => ({
    name: r.type,
    resource: RLIMIT_NUMBER[r.type as RlimitType],
    soft: rlimitValue(r.soft),
    hard: rlimitValue(r.hard),
  }));
  return {
    args: process.args ?? [],
    env: process.env ?? [],
    cwd: process.cwd,
    umask: user.umask,
    noNewPrivileges: Boolean(process.noNewPrivileges),
    credentials: {
      uid: user.uid,
      gid: user.gid,
      additionalGids: user.additionalGids ?? [],
      setGroups: !opts.rootless,
      ...planCapabilities(process.capabilities, lastCap()),
    },
    rlimits,
    preserveFds: opts.preserveFds,
    attributes: planAttributes(process, opts.spec, opts.context),
  };
}

export function buildInitPlan(inputs: PlanInputs, joins: NamespaceJoin[]): InitPlan {
  const { spec } = inputs;
  const process = spec.process;
  if (!process) throw new ContainerError('config.json: process is required to create a container');
  const newNs = new Set((spec.linux?.namespaces ?? []).filter((n) => !n.path).map((n) => n.type));
  let unshareFlags = 0;
  for (const type of newNs) if (type !== 'user' && type !== 'cgroup') unshareFlags |= NAMESPACE_CLONE_FLAG[type as NamespaceType];

  const sysctl = Object.entries(spec.linux?.sysctl ?? {}).map(
    ([key, value]) => [`/proc/sys/${key.replace(/\./g, '/')}`, value] as [string, string],
  );
  const timeOffsets = spec.linux?.timeOffsets
    ? Object.entries(spec.linux.timeOffsets).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`).join('')
    : undefined;
  const hooks = spec.hooks ?? {};
  return {
    syncFd: inputs.syncFd,
    parentSyncFd: inputs.parentSyncFd,
    joins,
    newUserNamespace: newNs.has('user'),
    unshareFlags,
    newCgroupNamespace: newNs.has('cgroup'),
    timeOffsets,
    hostname: spec.hostname,
    domainname: spec.domainname,
    rootfs: inputs.rootfs,
    sysctl,
    fifoFd: inputs.fifoFd,
    runtimeHooks: Boolean(hooks.prestart?.length || hooks.createRuntime?.length),
    createContainerHooks: (hooks.createContainer ?? []) as Hook[],
    startContainerHooks: (hooks.startContainer ?? []) as Hook[],
    process: planProcess(process, { ...inputs, spec }),
    seccomp: inputs.seccomp && { ...inputs.seccomp, beforeCredentials: !process.noNewPrivileges || Boolean(inputs.seccomp.listener) },
    console: planConsole(process, inputs.console, true),
  };
}

/** The terminal part of a plan: only with process.terminal and a socket to send the master on. */
export function planConsole(
  process: Process,
  socket: { socketFd: number; fallbackSize?: WindowSize } | undefined,
  mountConsole: boolean,
): ConsolePlan | undefined {
  if (!process.terminal || !socket) return undefined;
  const size = consoleSizeOf(process.consoleSize) ?? socket.fallbackSize;
  return { socketFd: socket.socketFd, size, mountConsole, uid: process.user?.uid ?? 0 };
}
