// Resource usage in the shape of runc's `events --stats` data (runc types/events.go). Counters are
// bigint: cgroup files hold unsigned 64-bit values ("max" = 2^64-1) that a JS number cannot keep.
import { readdirSync } from 'node:fs';
import { posix } from 'node:path';
import type { CgroupFs } from './cgroup-fs.js';
import { errnoCode, fileError } from './errors.js';

export interface MemoryEntry { limit: bigint; usage: bigint; max: bigint; failcnt: bigint }
export interface BlkioEntry { major: bigint; minor: bigint; op: string; value: bigint }

export interface Stats {
  cpu: {
    usage: { total: bigint; percpu: bigint[]; percpu_kernel: bigint[]; percpu_user: bigint[]; kernel: bigint; user: bigint };
    throttling: { periods: bigint; throttledPeriods: bigint; throttledTime: bigint };
  };
  cpuset: {
    cpus: number[]; cpu_exclusive: bigint; mems: number[]; mem_hardwall: bigint; mem_exclusive: bigint; memory_migrate: bigint;
    memory_spread_page: bigint; memory_spread_slab: bigint; memory_pressure: bigint; sched_load_balance: bigint; sched_relax_domain_level: bigint;
  };
  memory: { cache: bigint; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw: Record<string, bigint> };
  pids: { current: bigint; limit: bigint };
  blkio: {
    ioServiceBytesRecursive: BlkioEntry[]; ioServicedRecursive: BlkioEntry[]; ioQueueRecursive: BlkioEntry[]; ioServiceTimeRecursive: BlkioEntry[];
    ioWaitTimeRecursive: BlkioEntry[]; ioMergedRecursive: BlkioEntry[]; ioTimeRecursive: BlkioEntry[]; sectorsRecursive: BlkioEntry[];
  };
  hugetlb: Record<string, { usage: bigint; max: bigint; failcnt: bigint }>;
}

const MAX_U64 = (1n << 64n) - 1n;
const memEntry = (): MemoryEntry => ({ limit: 0n, usage: 0n, max: 0n, failcnt: 0n });

export function emptyStats(): Stats {
  return {
    cpu: { usage: { total: 0n, percpu: [], percpu_kernel: [], percpu_user: [], kernel: 0n, user: 0n }, throttling: { periods: 0n, throttledPeriods: 0n, throttledTime: 0n } },
    cpuset: { cpus: [], cpu_exclusive: 0n, mems: [], mem_hardwall: 0n, mem_exclusive: 0n, memory_migrate: 0n, memory_spread_page: 0n, memory_spread_slab: 0n, memory_pressure: 0n, sched_load_balance: 0n, sched_relax_domain_level: 0n },
    memory: { cache: 0n, usage: memEntry(), swap: memEntry(), kernel: memEntry(), kernelTCP: memEntry(), raw: {} },
    pids: { current: 0n, limit: 0n },
    blkio: { ioServiceBytesRecursive: [], ioServicedRecursive: [], ioQueueRecursive: [], ioServiceTimeRecursive: [], ioWaitTimeRecursive: [], ioMergedRecursive: [], ioTimeRecursive: [], sectorsRecursive: [] },
    hugetlb: {},
  };
}

// ---- file readers: undefined when the file does not exist (optional kernel features)

function readOpt(fs: CgroupFs, dir: string, file: string): string | undefined {
  const path = posix.join(dir, file);
  try {
    return fs.read(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENODEV' || errnoCode(e) === 'EOPNOTSUPP') return undefined;
    throw fileError('read', path, e);
  }
}

export function parseU64(text: string): bigint {
  const t = text.trim();
  if (t === 'max') return MAX_U64;
  // v1 reports "-1"-ish values for some unlimited knobs; clamp negatives to 0.
  if (/^-\d+$/.test(t)) return 0n;
  return BigInt(t);
}

function u64(fs: CgroupFs, dir: string, file: string): bigint | undefined {
  const t = readOpt(fs, dir, file);
  return t === undefined ? undefined : parseU64(t);
}

/** "key value" lines -> map (flat-keyed files: memory.stat, cpu.stat, memory.events ...). */
export function parseFlatKeyed(text: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^(\d+|max)$/.test(v)) out[k] = parseU64(v);
  }
  return out;
}

/** "0-3,6" -> [0,1,2,3,6] */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

/** Huge page sizes of this machine in cgroup file naming: "2MB", "1GB". */
export function hugePageSizes(): string[] {
  let names: string[];
  try {
    names = readdirSync('/sys/kernel/mm/hugepages');
  } catch {
    return [];
  }
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  return names.flatMap((n) => {
    const m = /^hugepages-(\d+)kB$/.exec(n);
    if (!m) return [];
    let size = Number(m[1]);
    let u = 0;
    while (size >= 1024 && size % 1024 === 0 && u < units.length - 1) {
      size /= 1024;
      u++;
    }
    return [`${size}${units[u]}`];
  });
}

// ---- v1

function v1MemoryEntry(fs: CgroupFs, dir: string, prefix: string): MemoryEntry | undefined {
  const usage = u64(fs, dir, `${prefix}.usage_in_bytes`);
  if (usage === undefined) return undefined;
  return {
    usage,
    max: u64(fs, dir, `${prefix}.max_usage_in_bytes`) ?? 0n,
    failcnt: u64(fs, dir, `${prefix}.failcnt`) ?? 0n,
    limit: u64(fs, dir, `${prefix}.limit_in_bytes`) ?? 0n,
  };
}

/** "8:0 Read 1282048" / "8:0 6792" lines; "Total N" skipped. */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/[\s:]+/);
    if (f.length < 3) continue;
    const [major, minor] = f;
    if (!/^\d+$/.test(major) || !/^\d+$/.test(minor)) continue;
    const op = f.length >= 4 ? f[2] : '';
    out.push({ major: BigInt(major), minor: BigInt(minor), op, value: BigInt(f[f.length >= 4 ? 3 : 2]) });
  }
  return out;
}

type BlkioKey = keyof Stats['blkio'];

function blkioV1(fs: CgroupFs, dir: string, stats: Stats): void {
  // The first family whose first file has entries wins (CFQ, BFQ, then the throttle counters).
  const families: [string, BlkioKey][][] = [
    [['blkio.io_serviced_recursive', 'ioServicedRecursive'], ['blkio.io_service_bytes_recursive', 'ioServiceBytesRecursive'],
      ['blkio.io_queued_recursive', 'ioQueueRecursive'], ['blkio.io_service_time_recursive', 'ioServiceTimeRecursive'],
      ['blkio.io_wait_time_recursive', 'ioWaitTimeRecursive'], ['blkio.io_merged_recursive', 'ioMergedRecursive'],
      ['blkio.time_recursive', 'ioTimeRecursive'], ['blkio.sectors_recursive', 'sectorsRecursive']],
    [['blkio.bfq.io_serviced_recursive', 'ioServicedRecursive'], ['blkio.bfq.io_service_bytes_recursive', 'ioServiceBytesRecursive']],
    [['blkio.throttle.io_serviced_recursive', 'ioServicedRecursive'], ['blkio.throttle.io_service_bytes_recursive', 'ioServiceBytesRecursive']],
    [['blkio.throttle.io_serviced', 'ioServicedRecursive'], ['blkio.throttle.io_service_bytes', 'ioServiceBytesRecursive']],
  ];
  for (const family of families) {
    const first = readOpt(fs, dir, family[0][0]);
    const entries = first === undefined ? [] : parseBlkioV1(first);
    if (!entries.length) continue;
    stats.blkio[family[0][1]] = entries;
    for (const [file, key] of family.slice(1)) {
      const t = readOpt(fs, dir, file);
      if (t !== undefined) stats.blkio[key] = parseBlkioV1(t);
    }
    return;
  }
}

const CLOCK_TICKS = 100n; // USER_HZ: cpuacct.stat counts in these
const NS_PER_SEC = 1_000_000_000n;

export function statsV1(fs: CgroupFs, paths: Record<string, string>): Stats {
  const s = emptyStats();
  const cpuacct = paths.cpuacct;
  if (cpuacct) {
    s.cpu.usage.total = u64(fs, cpuacct, 'cpuacct.usage') ?? 0n;
    const percpu = readOpt(fs, cpuacct, 'cpuacct.usage_percpu');
    if (percpu) s.cpu.usage.percpu = percpu.trim().split(/\s+/).filter(Boolean).map(BigInt);
    const all = readOpt(fs, cpuacct, 'cpuacct.usage_all'); // "cpu user system" rows after a header
    if (all) {
      for (const line of all.trim().split('\n').slice(1)) {
        const [, user, sys] = line.trim().split(/\s+/);
        if (user === undefined || sys === undefined) continue;
        s.cpu.usage.percpu_user.push(BigInt(user));
        s.cpu.usage.percpu_kernel.push(BigInt(sys));
      }
    }
    const stat = readOpt(fs, cpuacct, 'cpuacct.stat');
    if (stat) {
      const kv = parseFlatKeyed(stat);
      s.cpu.usage.user = ((kv.user ?? 0n) * NS_PER_SEC) / CLOCK_TICKS;
      s.cpu.usage.kernel = ((kv.system ?? 0n) * NS_PER_SEC) / CLOCK_TICKS;
    }
  }
  if (paths.cpu) {
    const t = readOpt(fs, paths.cpu, 'cpu.stat');
    if (t) {
      const kv = parseFlatKeyed(t);
      s.cpu.throttling = { periods: kv.nr_periods ?? 0n, throttledPeriods: kv.nr_throttled ?? 0n, throttledTime: kv.throttled_time ?? 0n };
    }
  }
  if (paths.cpuset) cpusetStats(fs, paths.cpuset, s, 'cpuset.cpus', 'cpuset.mems');
  const mem = paths.memory;
  if (mem) {
    const raw = readOpt(fs, mem, 'memory.stat');
    if (raw !== undefined) {
      s.memory.raw = parseFlatKeyed(raw);
      s.memory.cache = s.memory.raw.cache ?? 0n;
      s.memory.usage = v1MemoryEntry(fs, mem, 'memory') ?? memEntry();
      s.memory.swap = v1MemoryEntry(fs, mem, 'memory.memsw') ?? memEntry();
      s.memory.kernel = v1MemoryEntry(fs, mem, 'memory.kmem') ?? memEntry();
      s.memory.kernelTCP = v1MemoryEntry(fs, mem, 'memory.kmem.tcp') ?? memEntry();
    }
  }
  if (paths.pids) {
    const current = u64(fs, paths.pids, 'pids.current');
    if (current !== undefined) {
      const max = u64(fs, paths.pids, 'pids.max') ?? MAX_U64;
      s.pids = { current, limit: max === MAX_U64 ? 0n : max };
    }
  }
  if (paths.blkio) blkioV1(fs, paths.blkio, s);
  if (paths.hugetlb) {
    for (const size of hugePageSizes()) {
      const usage = u64(fs, paths.hugetlb, `hugetlb.${size}.usage_in_bytes`);
      if (usage === undefined) continue;
      s.hugetlb[size] = { usage, max: u64(fs, paths.hugetlb, `hugetlb.${size}.max_usage_in_bytes`) ?? 0n, failcnt: u64(fs, paths.hugetlb, `hugetlb.${size}.failcnt`) ?? 0n };
    }
  }
  return s;
}

function cpusetStats(fs: CgroupFs, dir: string, s: Stats, cpusFile: string, memsFile: string): void {
  const cpus = readOpt(fs, dir, cpusFile);
  if (cpus) s.cpuset.cpus = parseCpuList(cpus);
  const mems = readOpt(fs, dir, memsFile);
  if (mems) s.cpuset.mems = parseCpuList(mems);
  const flags = [
    ['cpu_exclusive', 'cpuset.cpu_exclusive'], ['mem_hardwall', 'cpuset.mem_hardwall'], ['mem_exclusive', 'cpuset.mem_exclusive'],
    ['memory_migrate', 'cpuset.memory_migrate'], ['memory_spread_page', 'cpuset.memory_spread_page'], ['memory_spread_slab', 'cpuset.memory_spread_slab'],
    ['memory_pressure', 'cpuset.memory_pressure'], ['sched_load_balance', 'cpuset.sched_load_balance'],
  ] as const;
  for (const [key, file] of flags) {
    const v = u64(fs, dir, file);
    if (v !== undefined) s.cpuset[key] = v;
  }
  const relax = readOpt(fs, dir, 'cpuset.sched_relax_domain_level');
  if (relax !== undefined) s.cpuset.sched_relax_domain_level = BigInt(relax.trim());
}

// ---- v2

/** io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" -> v1-shaped entries. */
export function parseIoStat(text: string, s: Stats): void {
  const map: Record<string, [BlkioKey, string]> = {
    rbytes: ['ioServiceBytesRecursive', 'Read'], wbytes: ['ioServiceBytesRecursive', 'Write'],
    rios: ['ioServicedRecursive', 'Read'], wios: ['ioServicedRecursive', 'Write'],
  };
  for (const line of text.split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    for (const kv of kvs) {
      const [k, v] = kv.split('=');
      const target = map[k];
      if (!target || !/^\d+$/.test(v ?? '')) continue;
      s.blkio[target[0]].push({ major: BigInt(m[1]), minor: BigInt(m[2]), op: target[1], value: BigInt(v) });
    }
  }
}

function v2MemoryEntry(fs: CgroupFs, dir: string, prefix: string): MemoryEntry | undefined {
  const usage = u64(fs, dir, `${prefix}.current`);
  if (usage === undefined) return undefined;
  return { usage, limit: u64(fs, dir, `${prefix}.max`) ?? MAX_U64, max: u64(fs, dir, `${prefix}.peak`) ?? 0n, failcnt: 0n };
}

export function statsV2(fs: CgroupFs, dir: string): Stats {
  const s = emptyStats();
  const cpu = readOpt(fs, dir, 'cpu.stat');
  if (cpu) {
    const kv = parseFlatKeyed(cpu);
    const us = (k: string) => (kv[k] ?? 0n) * 1000n;
    s.cpu.usage.total = us('usage_usec');
    s.cpu.usage.user = us('user_usec');
    s.cpu.usage.kernel = us('system_usec');
    s.cpu.throttling = { periods: kv.nr_periods ?? 0n, throttledPeriods: kv.nr_throttled ?? 0n, throttledTime: us('throttled_usec') };
  }
  cpusetStats(fs, dir, s, 'cpuset.cpus.effective', 'cpuset.mems.effective');
  const raw = readOpt(fs, dir, 'memory.stat');
  if (raw !== undefined) {
    s.memory.raw = parseFlatKeyed(raw);
    s.memory.cache = s.memory.raw.file ?? 0n;
    const usage = v2MemoryEntry(fs, dir, 'memory') ?? memEntry();
    const events = readOpt(fs, dir, 'memory.events');
    if (events) usage.failcnt = parseFlatKeyed(events).max ?? 0n;
    s.memory.usage = usage;
    // v1 reported swap as memory+swap: keep that meaning.
    const swap = v2MemoryEntry(fs, dir, 'memory.swap');
    if (swap) s.memory.swap = { usage: swap.usage + usage.usage, limit: swap.limit === MAX_U64 || usage.limit === MAX_U64 ? MAX_U64 : swap.limit + usage.limit, max: 0n, failcnt: 0n };
  }
  const current = u64(fs, dir, 'pids.current');
  if (current !== undefined) {
    const max = u64(fs, dir, 'pids.max') ?? MAX_U64;
    s.pids = { current, limit: max === MAX_U64 ? 0n : max };
  } else {
    const procs = readOpt(fs, dir, 'cgroup.procs');
    if (procs !== undefined) s.pids.current = BigInt(procs.split('\n').filter(Boolean).length);
  }
  const io = readOpt(fs, dir, 'io.stat');
  if (io) parseIoStat(io, s);
  for (const size of hugePageSizes()) {
    const usage = u64(fs, dir, `hugetlb.${size}.current`);
    if (usage === undefined) continue;
    const events = readOpt(fs, dir, `hugetlb.${size}.events`);
    s.hugetlb[size] = { usage, max: 0n, failcnt: events ? parseFlatKeyed(events).max ?? 0n : 0n };
  }
  return s;
}

// ---- JSON as runc prints it (omitempty fields dropped when zero, u64 printed exactly)

const BIG = '\u0000big:';

function isZero(v: unknown): boolean {
  return v === 0n || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || v === undefined ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
}

function omit<T extends object>(o: T, keys: string[]): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!(keys.includes(k) && isZero(v))) out[k] = v;
  return out as Partial<T>;
}

/** The `data` object of runc's stats event, ready for statsEventJson. */
export function statsToRuncShape(s: Stats): object {
  const memEntry = (e: MemoryEntry) => omit(e, ['usage', 'max']);
  const allZero = (e: MemoryEntry) => !e.limit && !e.usage && !e.max && !e.failcnt;
  const blkio = (list: BlkioEntry[]) => list.map((e) => omit(e, ['major', 'minor', 'op', 'value']));
  const usage = omit(s.cpu.usage, ['total', 'percpu', 'percpu_kernel', 'percpu_user']);
  const throttling = omit(s.cpu.throttling, ['periods', 'throttledPeriods', 'throttledTime']);
  const cpu: Record<string, unknown> = {};
  if (Object.values(s.cpu.usage).some((v) => !isZero(v))) cpu.usage = usage;
  if (Object.values(s.cpu.throttling).some((v) => !isZero(v))) cpu.throttling = throttling;
  const memory: Record<string, unknown> = {};
  if (s.memory.cache) memory.cache = s.memory.cache;
  for (const k of ['usage', 'swap', 'kernel', 'kernelTCP'] as const) if (!allZero(s.memory[k])) memory[k] = memEntry(s.memory[k]);
  if (Object.keys(s.memory.raw).length) memory.raw = s.memory.raw;
  const blk: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.blkio)) if (v.length) blk[k] = blkio(v);
  const hugetlb: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.hugetlb)) hugetlb[k] = omit(v, ['usage', 'max']);
  return {
    cpu,
    cpuset: omit(s.cpuset, ['cpus', 'mems']),
    memory,
    pids: omit(s.pids, ['current', 'limit']),
    blkio: blk,
    hugetlb,
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** JSON with bigints written as plain numbers (exact u64). */
export function jsonWithBigints(value: unknown): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${BIG}${v}` : v));
  return text.replace(/"\\u0000big:(-?\d+)"/g, '$1');
}

/** One line of `events --stats`: {"type":"stats","id":ID,"data":{...}}. */
export function statsEventJson(id: string, s: Stats): string {
  return jsonWithBigints({ type: 'stats', id, data: statsToRuncShape(s) });
}
