// Writing linux.resources to one cgroup v2 directory. File formats:
// Documentation/admin-guide/cgroup-v2.rst (cpu.max "$MAX $PERIOD", io.max "MAJ:MIN rbps=N ...",
// memory.max "max"|bytes, pids.max, hugetlb.<size>.max, rdma.max, cgroup.freeze ...).
import type { Resources } from '../../spec/types.js';
import type { DeviceRule } from './devices.js';
import { deviceFilterProgram } from './ebpf.js';
import type { DeviceFilterLoader } from './device-filter.js';
import { blkioWeightToIoWeight, cpuSharesToWeight, memorySwapToV2, v2Limit } from './convert.js';
import { CgroupError, errnoCode, fileError } from './errors.js';
import { checkHugepageSize, has, pidsMax, put, rdmaLine, readText, unsupported, type WriteContext } from './write-context.js';

const R = 'linux.resources';

export interface V2SetOptions {
  /** Device rules for the eBPF filter (undefined: leave the device programs alone, e.g. on update). */
  devices?: DeviceRule[];
  loader?: DeviceFilterLoader;
}

/** Controllers enabled for this cgroup (its cgroup.controllers). */
export function enabledControllers(ctx: WriteContext, dir: string): Set<string> {
  try {
    return new Set(readText(ctx, dir, 'cgroup.controllers').trim().split(/\s+/).filter(Boolean));
  } catch {
    return new Set();
  }
}

export function setV2(ctx: WriteContext, dir: string, r: Resources, opts: V2SetOptions = {}): void {
  const controllers = enabledControllers(ctx, dir);
  const need = (controller: string, field: string) => {
    if (!controllers.has(controller)) throw unsupported(field, `the ${controller} controller is not enabled for ${dir} (cgroup.controllers: ${[...controllers].join(' ') || 'none'})`);
  };
  if (r.pids?.limit !== undefined) {
    need('pids', `${R}.pids.limit`);
    put(ctx, dir, 'pids.max', pidsMax(r.pids.limit), `${R}.pids.limit`);
  }
  if (r.memory) setMemory(ctx, dir, r.memory, need);
  if (r.blockIO) setIo(ctx, dir, r.blockIO, need);
  if (r.cpu) setCpu(ctx, dir, r.cpu, need);
  if (opts.devices) {
    if (!opts.loader) throw new CgroupError('cgroup: no eBPF loader to install the device filter', { field: `${R}.devices` });
    opts.loader.attach(dir, deviceFilterProgram(opts.devices));
  }
  if (r.hugepageLimits?.length) {
    need('hugetlb', `${R}.hugepageLimits`);
    r.hugepageLimits.forEach((h, i) => {
      const field = `${R}.hugepageLimits[${i}]`;
      const prefix = `hugetlb.${checkHugepageSize(h.pageSize, `${field}.pageSize`)}`;
      put(ctx, dir, `${prefix}.max`, String(h.limit), field);
      if (has(ctx, dir, `${prefix}.rsvd.max`)) put(ctx, dir, `${prefix}.rsvd.max`, String(h.limit), field);
    });
  }
  if (r.rdma && Object.keys(r.rdma).length) {
    need('rdma', `${R}.rdma`);
    for (const [device, limits] of Object.entries(r.rdma)) {
      const line = rdmaLine(device, limits);
      if (line) put(ctx, dir, 'rdma.max', line, `${R}.rdma.${device}`);
    }
  }
  if (r.network?.classID) throw unsupported(`${R}.network.classID`, 'net_cls does not exist in cgroup v2');
  if (r.network?.priorities?.length) throw unsupported(`${R}.network.priorities`, 'net_prio does not exist in cgroup v2');
  if (r.unified) setUnified(ctx, dir, r.unified, controllers);
}

type Need = (controller: string, field: string) => void;

function setMemory(ctx: WriteContext, dir: string, m: NonNullable<Resources['memory']>, need: Need): void {
  const limit = m.limit ?? 0;
  const swapGiven = m.swap ?? 0;
  const reservation = m.reservation ?? 0;
  if (m.kernel || m.kernelTCP) ctx.warn(`${R}.memory.kernel and kernelTCP are ignored on cgroup v2 (as runc does)`);
  if (m.disableOOMKiller) throw unsupported(`${R}.memory.disableOOMKiller`, 'cgroup v2 has no way to disable the OOM killer');
  if (m.swappiness !== undefined && m.swappiness !== -1) throw unsupported(`${R}.memory.swappiness`, 'cgroup v2 has no per-cgroup swappiness');
  if (m.useHierarchy === false) throw unsupported(`${R}.memory.useHierarchy`, 'cgroup v2 is always hierarchical');
  if (!limit && !swapGiven && !reservation) return;
  need('memory', `${R}.memory`);
  if (m.checkBeforeUpdate && limit > 0) {
    const current = Number(readText(ctx, dir, 'memory.current').trim());
    if (limit <= current) throw unsupported(`${R}.memory.limit`, `${limit} is not above the current usage ${current} (checkBeforeUpdate)`);
  }
  const swap = memorySwapToV2(swapGiven, limit);
  // 0 from the conversion means "unset" unless swap was given equal to the limit: then no swap.
  const swapValue = swap === 0 ? (swapGiven > 0 ? '0' : '') : v2Limit(swap);
  if (swapValue) {
    try {
      ctx.fs.write(`${dir}/memory.swap.max`, swapValue);
    } catch (e) {
      // Without swap accounting, "no swap" and "unlimited swap" are both what there is.
      if (!(errnoCode(e) === 'ENOENT' && (swapValue === 'max' || swapValue === '0'))) throw fileError('write', `${dir}/memory.swap.max`, e, swapValue, `${R}.memory.swap`);
    }
  }
  if (limit) put(ctx, dir, 'memory.max', v2Limit(limit), `${R}.memory.limit`);
  if (reservation) put(ctx, dir, 'memory.low', v2Limit(reservation), `${R}.memory.reservation`);
}

function setIo(ctx: WriteContext, dir: string, b: NonNullable<Resources['blockIO']>, need: Need): void {
  if (b.leafWeight) throw unsupported(`${R}.blockIO.leafWeight`, 'cgroup v2 has no leaf weight');
  b.weightDevice?.forEach((wd, i) => {
    if (wd.leafWeight) throw unsupported(`${R}.blockIO.weightDevice[${i}].leafWeight`, 'cgroup v2 has no leaf weight');
  });
  const throttles = [
    ['throttleReadBpsDevice', 'rbps'],
    ['throttleWriteBpsDevice', 'wbps'],
    ['throttleReadIOPSDevice', 'riops'],
    ['throttleWriteIOPSDevice', 'wiops'],
  ] as const;
  const asked = b.weight || b.weightDevice?.some((w) => w.weight) || throttles.some(([k]) => b[k]?.length);
  if (!asked) return;
  need('io', `${R}.blockIO`);
  // BFQ takes the v1 weight range as is; otherwise io.weight (io.cost) with the range converted.
  const bfq = has(ctx, dir, 'io.bfq.weight');
  // Per-device BFQ weights exist when io.bfq.weight reads "default N" (a bare number: older kernels).
  const perDeviceBfq = bfq && !!b.weightDevice?.length && !/^\d+\s*$/.test(readText(ctx, dir, 'io.bfq.weight'));
  if (b.weight) {
    if (bfq) put(ctx, dir, 'io.bfq.weight', String(b.weight), `${R}.blockIO.weight`);
    else put(ctx, dir, 'io.weight', String(blkioWeightToIoWeight(b.weight)), `${R}.blockIO.weight`);
  }
  b.weightDevice?.forEach((wd, i) => {
    if (!wd.weight) return;
    const field = `${R}.blockIO.weightDevice[${i}].weight`;
    if (perDeviceBfq) put(ctx, dir, 'io.bfq.weight', `${wd.major}:${wd.minor} ${wd.weight}`, field);
    else put(ctx, dir, 'io.weight', `${wd.major}:${wd.minor} ${blkioWeightToIoWeight(wd.weight)}`, field);
  });
  for (const [key, name] of throttles) {
    b[key]?.forEach((td, i) => put(ctx, dir, 'io.max', `${td.major}:${td.minor} ${name}=${td.rate}`, `${R}.blockIO.${key}[${i}]`));
  }
}

function setCpu(ctx: WriteContext, dir: string, c: NonNullable<Resources['cpu']>, need: Need): void {
  if (c.realtimePeriod || c.realtimeRuntime) {
    throw unsupported(`${R}.cpu.${c.realtimePeriod ? 'realtimePeriod' : 'realtimeRuntime'}`, 'cgroup v2 has no realtime bandwidth control');
  }
  if (c.cpus || c.mems) {
    need('cpuset', `${R}.cpu.${c.cpus ? 'cpus' : 'mems'}`);
    if (c.cpus) put(ctx, dir, 'cpuset.cpus', c.cpus, `${R}.cpu.cpus`);
    if (c.mems) put(ctx, dir, 'cpuset.mems', c.mems, `${R}.cpu.mems`);
  }
  if (!(c.shares || c.quota || c.period || c.burst !== undefined || c.idle !== undefined)) return;
  need('cpu', `${R}.cpu`);
  if (c.idle !== undefined) put(ctx, dir, 'cpu.idle', String(c.idle), `${R}.cpu.idle`);
  if (c.shares) put(ctx, dir, 'cpu.weight', String(cpuSharesToWeight(c.shares)), `${R}.cpu.shares`);
  let burstLater = false;
  if (c.burst !== undefined) {
    try {
      ctx.fs.write(`${dir}/cpu.max.burst`, String(c.burst));
    } catch (e) {
      if (errnoCode(e) === 'EINVAL' && c.quota) burstLater = true;
      else throw fileError('write', `${dir}/cpu.max.burst`, e, String(c.burst), `${R}.cpu.burst`);
    }
  }
  if (c.quota || c.period) {
    const value = `${c.quota && c.quota > 0 ? c.quota : 'max'} ${c.period || 100000}`;
    put(ctx, dir, 'cpu.max', value, `${R}.cpu.${c.quota ? 'quota' : 'period'}`);
    if (burstLater) put(ctx, dir, 'cpu.max.burst', String(c.burst), `${R}.cpu.burst`);
  }
}

function setUnified(ctx: WriteContext, dir: string, unified: Record<string, string>, controllers: Set<string>): void {
  for (const [key, value] of Object.entries(unified)) {
    const field = `${R}.unified.${key}`;
    if (key.includes('/') || key === '.' || key === '..') throw unsupported(field, 'must be a file name of the cgroup directory');
    const controller = key.split('.')[0];
    if (!key.includes('.')) throw unsupported(field, 'must look like CONTROLLER.PARAMETER');
    if (!has(ctx, dir, key)) {
      if (controller !== 'cgroup' && !controllers.has(controller)) throw unsupported(field, `the ${controller} controller is not enabled for ${dir}`);
      throw unsupported(field, `${dir}/${key} does not exist`);
    }
    // Multi-line values are written one line per write(2), as the kernel parses one write at a time.
    for (const line of value.split('\n')) if (line !== '') put(ctx, dir, key, line, field);
  }
}
