// Semantic checks of the `linux` object (see semantic.ts).
import { pointer } from './issues.js';
import { SECCOMP_ERRNO_ACTIONS, type SeccompAction } from './names.js';
import {
  IssueList, type NamespaceIndex, type Obj, checkIdMappings, cpuListProblem, isInt, isObj, isStr, listOf,
  objOf,
} from './semantic-util.js';

export function checkLinux(issues: IssueList, config: Obj, namespaces: NamespaceIndex): void {
  const linux = objOf(config.linux);
  checkNamespaces(issues, linux);
  checkUserMappings(issues, linux, namespaces);
  checkSysctl(issues, linux, namespaces);
  checkTime(issues, linux, namespaces);
  checkPathLists(issues, linux, namespaces);
  checkDevices(issues, linux);
  checkNetDevices(issues, linux, namespaces);
  checkSeccomp(issues, linux);
  checkResources(issues, objOf(linux.resources));
  checkIntelRdt(issues, objOf(linux.intelRdt));
  checkMemoryPolicy(issues, linux);
  const personality = objOf(linux.personality);
  if (listOf(personality.flags).length) {
    issues.error('/linux/personality/flags', 'no personality flags are defined by the runtime-spec; leave it empty');
  }
  const cpus = objOf(objOf(linux.resources).cpu);
  for (const key of ['cpus', 'mems']) checkCpuList(issues, cpus[key], `/linux/resources/cpu/${key}`);
  const affinity = objOf(objOf(config.process).execCPUAffinity);
  for (const key of ['initial', 'final']) checkCpuList(issues, affinity[key], `/process/execCPUAffinity/${key}`);
}

function checkCpuList(issues: IssueList, value: unknown, path: string): void {
  const problem = isStr(value) ? cpuListProblem(value) : undefined;
  if (problem) issues.error(path, problem);
}

function checkNamespaces(issues: IssueList, linux: Obj): void {
  const first = new Map<string, number>();
  listOf(linux.namespaces).forEach((ns, i) => {
    if (!isObj(ns) || !isStr(ns.type)) return;
    const prev = first.get(ns.type);
    if (prev !== undefined) {
      issues.error(pointer('linux', 'namespaces', i, 'type'), `duplicate namespace "${ns.type}" (first given at /linux/namespaces/${prev})`);
    } else {
      first.set(ns.type, i);
    }
  });
}

function checkUserMappings(issues: IssueList, linux: Obj, namespaces: NamespaceIndex): void {
  const userns = namespaces.get('user');
  for (const key of ['uidMappings', 'gidMappings'] as const) {
    const list = listOf(linux[key]);
    checkIdMappings(issues, linux[key], ['linux', key]);
    if (!userns && list.length) {
      issues.error(`/linux/${key}`, 'mappings need a "user" entry in linux.namespaces');
    } else if (userns && !userns.path && list.length === 0) {
      issues.error(`/linux/${key}`, `a new user namespace (/linux/namespaces/${userns.index}) needs at least one mapping`);
    }
  }
}

/** IPC-namespaced sysctls besides the fs.mqueue.* family (ipc_namespace sysctl table). */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax',
  'kernel.shmmni', 'kernel.shm_rmid_forced',
]);

function sysctlNamespace(name: string): { ns?: string; refuse?: string } {
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) return { ns: 'ipc' };
  if (name.startsWith('net.')) return { ns: 'network' };
  if (name === 'kernel.domainname') return { ns: 'uts' };
  if (name === 'kernel.hostname') return { refuse: 'set the "hostname" field instead' };
  if (name.startsWith('user.')) return { ns: 'user' };
  return { refuse: 'it is not namespaced, so it would change the host' };
}

function checkSysctl(issues: IssueList, linux: Obj, namespaces: NamespaceIndex): void {
  for (const key of Object.keys(objOf(linux.sysctl))) {
    // sysctl(8) also accepts "/" as separator; the first component decides the family either way.
    const name = key.replace(/\//g, '.');
    const path = pointer('linux', 'sysctl', key);
    const { ns, refuse } = sysctlNamespace(name);
    if (refuse) issues.error(path, `sysctl "${key}" is not allowed: ${refuse}`);
    else if (ns && !namespaces.has(ns)) {
      issues.error(path, `sysctl "${key}" needs a "${ns}" namespace in linux.namespaces (it would change the host's)`);
    }
  }
}

function checkTime(issues: IssueList, linux: Obj, namespaces: NamespaceIndex): void {
  if (!isObj(linux.timeOffsets) || Object.keys(linux.timeOffsets).length === 0) return;
  const timens = namespaces.get('time');
  if (!timens) {
    issues.error('/linux/timeOffsets', 'needs a "time" entry in linux.namespaces');
  } else if (timens.path) {
    issues.error('/linux/timeOffsets', `cannot be applied to a joined time namespace (/linux/namespaces/${timens.index}/path)`);
  }
}

function checkPathLists(issues: IssueList, linux: Obj, namespaces: NamespaceIndex): void {
  if (namespaces.has('mount')) return;
  for (const key of ['maskedPaths', 'readonlyPaths']) {
    if (listOf(linux[key]).length) {
      issues.error(`/linux/${key}`, `needs a "mount" namespace in linux.namespaces (it would change the host's mounts)`);
    }
  }
  if (isStr(linux.rootfsPropagation)) {
    issues.error('/linux/rootfsPropagation', 'needs a "mount" namespace in linux.namespaces');
  }
}

function checkDevices(issues: IssueList, linux: Obj): void {
  const seen = new Map<string, number>();
  listOf(linux.devices).forEach((d, i) => {
    if (!isObj(d)) return;
    if (isStr(d.path)) {
      const prev = seen.get(d.path);
      if (prev !== undefined) issues.error(pointer('linux', 'devices', i, 'path'), `duplicate device "${d.path}" (first given at /linux/devices/${prev})`);
      else seen.set(d.path, i);
    }
    for (const key of ['major', 'minor']) {
      if (isInt(d[key]) && (d[key] as number) < 0) issues.error(pointer('linux', 'devices', i, key), `must not be negative, got ${d[key]}`);
    }
    if (isInt(d.fileMode) && d.fileMode > 0o7777) {
      issues.error(pointer('linux', 'devices', i, 'fileMode'), `${d.fileMode} has bits above 07777; fileMode holds permission bits only, as a decimal number (0666 is 438)`);
    }
  });
}

function checkNetDevices(issues: IssueList, linux: Obj, namespaces: NamespaceIndex): void {
  if (!isObj(linux.netDevices)) return;
  const names = new Map<string, string>();
  for (const [hostName, dev] of Object.entries(linux.netDevices)) {
    const path = pointer('linux', 'netDevices', hostName);
    if (!namespaces.has('network')) {
      issues.error(path, 'moving a network device needs a "network" entry in linux.namespaces');
    }
    const inside = isObj(dev) && isStr(dev.name) && dev.name !== '' ? dev.name : hostName;
    const prev = names.get(inside);
    if (prev !== undefined) issues.error(path, `both "${prev}" and "${hostName}" would be named "${inside}" in the container`);
    else names.set(inside, hostName);
  }
}

function checkSeccomp(issues: IssueList, linux: Obj): void {
  if (!isObj(linux.seccomp)) return;
  const sc = linux.seccomp;
  const takesErrno = (a: unknown) => SECCOMP_ERRNO_ACTIONS.includes(a as SeccompAction);
  if (sc.defaultErrnoRet !== undefined && isStr(sc.defaultAction) && !takesErrno(sc.defaultAction)) {
    issues.error('/linux/seccomp/defaultErrnoRet', `is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (defaultAction is ${sc.defaultAction})`);
  }
  if (sc.defaultAction === 'SCMP_ACT_NOTIFY') {
    issues.error('/linux/seccomp/defaultAction', 'SCMP_ACT_NOTIFY cannot be the default action (the runtime itself would block on its own syscalls)');
  }
  let notifyAt: string | undefined;
  listOf(sc.syscalls).forEach((rule, i) => {
    if (!isObj(rule)) return;
    if (rule.action === 'SCMP_ACT_NOTIFY') notifyAt ??= pointer('linux', 'seccomp', 'syscalls', i, 'action');
    if (rule.errnoRet !== undefined && isStr(rule.action) && !takesErrno(rule.action)) {
      issues.error(pointer('linux', 'seccomp', 'syscalls', i, 'errnoRet'), `is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (action is ${rule.action})`);
    }
  });
  const hasListener = isStr(sc.listenerPath) && sc.listenerPath !== '';
  if (notifyAt && !hasListener) {
    issues.error('/linux/seccomp/listenerPath', `is required because ${notifyAt} is SCMP_ACT_NOTIFY`);
  }
  if (isStr(sc.listenerMetadata) && sc.listenerMetadata !== '' && !hasListener) {
    issues.error('/linux/seccomp/listenerMetadata', 'must not be set without listenerPath');
  }
}

function checkResources(issues: IssueList, res: Obj): void {
  const mem = objOf(res.memory);
  if (isInt(mem.limit) && isInt(mem.swap) && mem.limit > 0 && mem.swap > 0 && mem.swap < mem.limit) {
    issues.error('/linux/resources/memory/swap', `memory+swap limit ${mem.swap} is below the memory limit ${mem.limit}`);
  }
  const cpu = objOf(res.cpu);
  if (isInt(cpu.burst) && isInt(cpu.quota) && cpu.quota > 0 && cpu.burst > cpu.quota) {
    issues.error('/linux/resources/cpu/burst', `burst ${cpu.burst} is larger than quota ${cpu.quota}`);
  }
  if (isInt(cpu.period) && cpu.period !== 0 && (cpu.period < 1000 || cpu.period > 1000000)) {
    issues.error('/linux/resources/cpu/period', `${cpu.period} µs is outside the kernel's 1000..1000000`);
  }
  listOf(objOf(res.blockIO).weightDevice).forEach((d, i) => {
    if (isObj(d) && d.weight === undefined && d.leafWeight === undefined) {
      issues.error(pointer('linux', 'resources', 'blockIO', 'weightDevice', i), 'needs weight or leafWeight');
    }
  });
  for (const [name, entry] of Object.entries(objOf(res.rdma))) {
    if (isObj(entry) && entry.hcaHandles === undefined && entry.hcaObjects === undefined) {
      issues.error(pointer('linux', 'resources', 'rdma', name), 'needs hcaHandles or hcaObjects');
    }
  }
  for (const key of Object.keys(objOf(res.unified))) {
    const path = pointer('linux', 'resources', 'unified', key);
    if (key.includes('/') || key === '.' || key === '..') {
      issues.error(path, 'must be a file name in the container\'s cgroup (no "/")');
    } else if (!/^[a-z_0-9]+\.[^.]/.test(key)) {
      issues.error(path, 'must be a cgroup v2 file name of the form <controller>.<setting>, e.g. "memory.high"');
    }
  }
}

function checkIntelRdt(issues: IssueList, rdt: Obj): void {
  const clos = rdt.closID;
  if (isStr(clos) && (clos === '.' || clos === '..' || (clos.length > 1 && clos.includes('/')))) {
    issues.error('/linux/intelRdt/closID', `"${clos}" is not a valid resctrl group name`);
  }
}

const MPOL_WITHOUT_NODES = new Set(['MPOL_DEFAULT', 'MPOL_LOCAL']);
const MPOL_NEEDS_NODES = new Set(['MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE', 'MPOL_PREFERRED_MANY']);

function checkMemoryPolicy(issues: IssueList, linux: Obj): void {
  if (!isObj(linux.memoryPolicy)) return;
  const mp = linux.memoryPolicy;
  const nodes = isStr(mp.nodes) ? mp.nodes : '';
  if (isStr(mp.mode) && MPOL_WITHOUT_NODES.has(mp.mode) && nodes !== '') {
    issues.error('/linux/memoryPolicy/nodes', `${mp.mode} takes no nodes`);
  }
  if (isStr(mp.mode) && MPOL_NEEDS_NODES.has(mp.mode) && nodes === '') {
    issues.error('/linux/memoryPolicy/nodes', `${mp.mode} needs at least one node`);
  }
  checkCpuList(issues, mp.nodes, '/linux/memoryPolicy/nodes');
  const flags = listOf(mp.flags);
  if (flags.includes('MPOL_F_STATIC_NODES') && flags.includes('MPOL_F_RELATIVE_NODES')) {
    issues.error('/linux/memoryPolicy/flags', 'MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other');
  }
}
