// Writing linux.resources to cgroup v1 controller directories (also used in hybrid mode, where the
// controllers are all v1). File formats: Documentation/admin-guide/cgroup-v1/*.
import type { Resources } from '../../spec/types.js';
import type { DeviceRule } from './devices.js';
import { matchesEverything, v1DeviceLine } from './devices.js';
import { CgroupError } from './errors.js';
import { checkHugepageSize, has, pidsMax, put, rdmaLine, readText, tryPut, unsupported, type WriteContext } from './write-context.js';

const R = 'linux.resources';

export interface V1SetOptions {
  /** Device rules to write (undefined: leave the devices cgroup alone, e.g. on update). */
  devices?: DeviceRule[];
}

function dirFor(paths: Record<string, string>, controller: string, field: string): string {
  const dir = paths[controller];
  if (!dir) throw unsupported(field, `the ${controller} cgroup controller is not available on this host`);
  return dir;
}

export function setV1(ctx: WriteContext, paths: Record<string, string>, r: Resources, opts: V1SetOptions = {}): void {
  if (r.unified && Object.keys(r.unified).length) throw unsupported(`${R}.unified`, 'needs cgroup v2 (this host uses cgroup v1 controllers)');
  if (r.cpu && (r.cpu.cpus || r.cpu.mems)) setCpuset(ctx, dirFor(paths, 'cpuset', `${R}.cpu.${r.cpu.cpus ? 'cpus' : 'mems'}`), r.cpu);
  if (opts.devices) setDevices(ctx, dirFor(paths, 'devices', `${R}.devices`), opts.devices);
  if (r.memory && memoryAsked(r.memory)) setMemory(ctx, dirFor(paths, 'memory', `${R}.memory`), r.memory);
  if (r.cpu && cpuAsked(r.cpu)) setCpu(ctx, dirFor(paths, 'cpu', `${R}.cpu`), r.cpu);
  if (r.pids?.limit !== undefined) put(ctx, dirFor(paths, 'pids', `${R}.pids.limit`), 'pids.max', pidsMax(r.pids.limit), `${R}.pids.limit`);
  if (r.blockIO && blkioAsked(r.blockIO)) setBlkio(ctx, dirFor(paths, 'blkio', `${R}.blockIO`), r.blockIO);
  if (r.hugepageLimits?.length) {
    const dir = dirFor(paths, 'hugetlb', `${R}.hugepageLimits`);
    r.hugepageLimits.forEach((h, i) => {
      const field = `${R}.hugepageLimits[${i}]`;
      const prefix = `hugetlb.${checkHugepageSize(h.pageSize, `${field}.pageSize`)}`;
      put(ctx, dir, `${prefix}.limit_in_bytes`, String(h.limit), field);
      if (has(ctx, dir, `${prefix}.rsvd.limit_in_bytes`)) put(ctx, dir, `${prefix}.rsvd.limit_in_bytes`, String(h.limit), field);
    });
  }
  if (r.network?.classID) put(ctx, dirFor(paths, 'net_cls', `${R}.network.classID`), 'net_cls.classid', String(r.network.classID), `${R}.network.classID`);
  if (r.network?.priorities?.length) {
    const dir = dirFor(paths, 'net_prio', `${R}.network.priorities`);
    r.network.priorities.forEach((p, i) => put(ctx, dir, 'net_prio.ifpriomap', `${p.name} ${p.priority}`, `${R}.network.priorities[${i}]`));
  }
  if (r.rdma && Object.keys(r.rdma).length) {
    const dir = dirFor(paths, 'rdma', `${R}.rdma`);
    for (const [device, limits] of Object.entries(r.rdma)) {
      const line = rdmaLine(device, limits);
      if (line) put(ctx, dir, 'rdma.max', line, `${R}.rdma.${device}`);
    }
  }
}

function memoryAsked(m: NonNullable<Resources['memory']>): boolean {
  return !!(m.limit || m.swap || m.reservation || m.kernel || m.kernelTCP || m.disableOOMKiller || m.useHierarchy !== undefined ||
    (m.swappiness !== undefined && m.swappiness !== -1));
}

function cpuAsked(c: NonNullable<Resources['cpu']>): boolean {
  return !!(c.shares || c.quota || c.period || c.burst !== undefined || c.idle !== undefined || c.realtimePeriod || c.realtimeRuntime);
}

function blkioAsked(b: NonNullable<Resources['blockIO']>): boolean {
  return !!(b.weight || b.leafWeight || b.weightDevice?.length || b.throttleReadBpsDevice?.length || b.throttleWriteBpsDevice?.length ||
    b.throttleReadIOPSDevice?.length || b.throttleWriteIOPSDevice?.length);
}

function setCpuset(ctx: WriteContext, dir: string, c: NonNullable<Resources['cpu']>): void {
  if (c.cpus) put(ctx, dir, 'cpuset.cpus', c.cpus, `${R}.cpu.cpus`);
  if (c.mems) put(ctx, dir, 'cpuset.mems', c.mems, `${R}.cpu.mems`);
}

function setDevices(ctx: WriteContext, dir: string, rules: DeviceRule[]): void {
  rules.forEach((rule, i) => {
    // "a" alone switches the cgroup to deny-all (or allow-all) and clears the exceptions.
    const line = matchesEverything(rule) ? 'a' : v1DeviceLine(rule);
    put(ctx, dir, rule.allow ? 'devices.allow' : 'devices.deny', line, `${R}.devices (rule ${i}: ${v1DeviceLine(rule)})`);
  });
}

function setMemory(ctx: WriteContext, dir: string, m: NonNullable<Resources['memory']>): void {
  const limit = m.limit ?? 0;
  let swap = m.swap ?? 0;
  const swapFile = 'memory.memsw.limit_in_bytes';
  const hasSwap = has(ctx, dir, swapFile);
  if (limit === -1 && swap === 0 && hasSwap) swap = -1;
  const writeLimit = () => {
    if (limit === 0) return;
    const value = String(limit);
    const code = tryPut(ctx, dir, 'memory.limit_in_bytes', value);
    if (!code) return;
    let detail = '';
    if (code === 'EBUSY') {
      const usage = safeRead(ctx, dir, 'memory.usage_in_bytes');
      const peak = safeRead(ctx, dir, 'memory.max_usage_in_bytes');
      detail = ` (the limit is below the current usage ${usage} bytes, peak ${peak})`;
    }
    throw new CgroupError(`cgroup: write ${value} to ${dir}/memory.limit_in_bytes: ${code}${detail}`, { code, path: `${dir}/memory.limit_in_bytes`, value, field: `${R}.memory.limit` });
  };
  const writeSwap = () => {
    if (swap === 0) return;
    if (!hasSwap) {
      if (swap === -1) return; // no swap accounting: unlimited is what there is
      throw unsupported(`${R}.memory.swap`, `swap accounting is not enabled on this host (no ${swapFile})`);
    }
    put(ctx, dir, swapFile, String(swap), `${R}.memory.swap`);
  };
  // memsw must stay >= limit at every step, so the order depends on where the limit is going.
  if (limit !== 0 && swap !== 0 && hasSwap) {
    const current = Number(readText(ctx, dir, 'memory.limit_in_bytes').trim());
    if (swap === -1 || current < swap) {
      writeSwap();
      writeLimit();
    } else {
      writeLimit();
      writeSwap();
    }
  } else {
    writeLimit();
    writeSwap();
  }
  if (m.reservation) put(ctx, dir, 'memory.soft_limit_in_bytes', String(m.reservation), `${R}.memory.reservation`);
  if (m.kernel) {
    if (has(ctx, dir, 'memory.kmem.limit_in_bytes')) put(ctx, dir, 'memory.kmem.limit_in_bytes', String(m.kernel), `${R}.memory.kernel`);
    else ctx.warn(`${R}.memory.kernel is ignored: this kernel has no kernel memory limit`);
  }
  if (m.kernelTCP) {
    if (has(ctx, dir, 'memory.kmem.tcp.limit_in_bytes')) put(ctx, dir, 'memory.kmem.tcp.limit_in_bytes', String(m.kernelTCP), `${R}.memory.kernelTCP`);
    else ctx.warn(`${R}.memory.kernelTCP is ignored: this kernel has no kernel TCP memory limit`);
  }
  if (m.disableOOMKiller) put(ctx, dir, 'memory.oom_control', '1', `${R}.memory.disableOOMKiller`);
  if (m.swappiness !== undefined && m.swappiness !== -1) {
    if (!(Number.isInteger(m.swappiness) && m.swappiness >= 0 && m.swappiness <= 100)) {
      throw unsupported(`${R}.memory.swappiness`, `${m.swappiness} is out of range (0-100)`);
    }
    put(ctx, dir, 'memory.swappiness', String(m.swappiness), `${R}.memory.swappiness`);
  }
  if (m.useHierarchy !== undefined) put(ctx, dir, 'memory.use_hierarchy', m.useHierarchy ? '1' : '0', `${R}.memory.useHierarchy`);
}

function safeRead(ctx: WriteContext, dir: string, file: string): string {
  try {
    return readText(ctx, dir, file).trim();
  } catch {
    return '?';
  }
}

function setCpu(ctx: WriteContext, dir: string, c: NonNullable<Resources['cpu']>): void {
  if (c.shares) {
    put(ctx, dir, 'cpu.shares', String(c.shares), `${R}.cpu.shares`);
    // The kernel clamps out-of-range shares silently: read back to say so.
    const got = Number(readText(ctx, dir, 'cpu.shares').trim());
    if (got !== c.shares) throw unsupported(`${R}.cpu.shares`, `${c.shares} is out of range (the kernel set ${got}; the ${c.shares > got ? 'maximum' : 'minimum'} is ${got})`);
  }
  // Period, burst and quota are checked against each other: a write the kernel refuses now may
  // pass once the quota is in, so retry those after it (as runc does).
  let periodLater = false;
  let burstLater = false;
  if (c.period) {
    const code = tryPut(ctx, dir, 'cpu.cfs_period_us', String(c.period));
    if (code === 'EINVAL' && c.quota) periodLater = true;
    else if (code) put(ctx, dir, 'cpu.cfs_period_us', String(c.period), `${R}.cpu.period`);
  }
  if (c.burst !== undefined) {
    if (!has(ctx, dir, 'cpu.cfs_burst_us')) throw unsupported(`${R}.cpu.burst`, 'this kernel has no cpu.cfs_burst_us');
    const code = tryPut(ctx, dir, 'cpu.cfs_burst_us', String(c.burst));
    if (code === 'EINVAL' && c.quota) burstLater = true;
    else if (code) put(ctx, dir, 'cpu.cfs_burst_us', String(c.burst), `${R}.cpu.burst`);
  }
  if (c.quota) {
    put(ctx, dir, 'cpu.cfs_quota_us', String(c.quota), `${R}.cpu.quota`);
    if (periodLater) put(ctx, dir, 'cpu.cfs_period_us', String(c.period), `${R}.cpu.period`);
    if (burstLater) put(ctx, dir, 'cpu.cfs_burst_us', String(c.burst), `${R}.cpu.burst`);
  }
  if (c.idle !== undefined) put(ctx, dir, 'cpu.idle', String(c.idle), `${R}.cpu.idle`);
  setRealtime(ctx, dir, c);
}

function setRealtime(ctx: WriteContext, dir: string, c: NonNullable<Resources['cpu']>): void {
  let periodLater = false;
  if (c.realtimePeriod) {
    const code = tryPut(ctx, dir, 'cpu.rt_period_us', String(c.realtimePeriod));
    if (code === 'EINVAL' && c.realtimeRuntime) periodLater = true;
    else if (code) put(ctx, dir, 'cpu.rt_period_us', String(c.realtimePeriod), `${R}.cpu.realtimePeriod`);
  }
  if (c.realtimeRuntime) {
    put(ctx, dir, 'cpu.rt_runtime_us', String(c.realtimeRuntime), `${R}.cpu.realtimeRuntime`);
    if (periodLater) put(ctx, dir, 'cpu.rt_period_us', String(c.realtimePeriod), `${R}.cpu.realtimePeriod`);
  }
}

function setBlkio(ctx: WriteContext, dir: string, b: NonNullable<Resources['blockIO']>): void {
  // CFQ (old kernels) has blkio.weight; BFQ has blkio.bfq.weight; neither without those schedulers.
  const cfq = has(ctx, dir, 'blkio.weight');
  const bfq = !cfq && has(ctx, dir, 'blkio.bfq.weight');
  const weightFile = cfq ? 'blkio.weight' : 'blkio.bfq.weight';
  const weightDeviceFile = cfq ? 'blkio.weight_device' : 'blkio.bfq.weight_device';
  const noWeight = (field: string) => unsupported(field, 'this host has no blkio.weight or blkio.bfq.weight (no CFQ or BFQ I/O scheduler)');
  if (b.weight) {
    if (!cfq && !bfq) throw noWeight(`${R}.blockIO.weight`);
    put(ctx, dir, weightFile, String(b.weight), `${R}.blockIO.weight`);
  }
  if (b.leafWeight) {
    if (!has(ctx, dir, 'blkio.leaf_weight')) throw unsupported(`${R}.blockIO.leafWeight`, 'this host has no blkio.leaf_weight (CFQ only)');
    put(ctx, dir, 'blkio.leaf_weight', String(b.leafWeight), `${R}.blockIO.leafWeight`);
  }
  b.weightDevice?.forEach((wd, i) => {
    const field = `${R}.blockIO.weightDevice[${i}]`;
    if (wd.weight) {
      if (!cfq && !bfq) throw noWeight(`${field}.weight`);
      put(ctx, dir, weightDeviceFile, `${wd.major}:${wd.minor} ${wd.weight}`, `${field}.weight`);
    }
    if (wd.leafWeight) {
      if (!has(ctx, dir, 'blkio.leaf_weight_device')) throw unsupported(`${field}.leafWeight`, 'this host has no blkio.leaf_weight_device (CFQ only)');
      put(ctx, dir, 'blkio.leaf_weight_device', `${wd.major}:${wd.minor} ${wd.leafWeight}`, `${field}.leafWeight`);
    }
  });
  const throttles = [
    ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
    ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
    ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
    ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
  ] as const;
  for (const [key, file] of throttles) {
    b[key]?.forEach((td, i) => put(ctx, dir, file, `${td.major}:${td.minor} ${td.rate}`, `${R}.blockIO.${key}[${i}]`));
  }
}
