// `tsrun update`: runc's flags (or a --resources JSON file) turned into linux.resources, and the
// merge of that update into the container's current resources.
import type { IntelRdt, Resources } from '../../spec/types.js';
import { CgroupError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Sizes as docker/go-units RAMInBytes reads them: "8m", "1g", "512k", "1.5GiB", "100" (binary units). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  if (!m) throw new Error(`invalid size: '${text}'`);
  return Math.trunc(parseFloat(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
}

function get(flags: Record<string, string>, name: string): string | undefined {
  const v = flags[name] ?? flags[`--${name}`];
  return v === undefined || v === '' ? undefined : String(v);
}

function bad(flag: string, value: string, why: string): CgroupError {
  return new CgroupError(`invalid value for --${flag}: ${JSON.stringify(value)}: ${why}`);
}

function int(flag: string, value: string, unsigned: boolean): number {
  if (!(unsigned ? /^\d+$/ : /^-?\d+$/).test(value)) throw bad(flag, value, unsigned ? 'not an unsigned integer' : 'not an integer');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw bad(flag, value, 'out of range');
  return n;
}

function size(flag: string, value: string): number {
  if (value === '-1') return -1;
  try {
    return parseSize(value);
  } catch (e) {
    throw bad(flag, value, (e as Error).message);
  }
}

/**
 * runc update's flags -> the resources to change. Keys may be given with or without "--".
 * (--cpu-share is runc's spelling; --cpu-shares is accepted too.)
 */
export function resourcesFromUpdateFlags(flags: Record<string, string>): Resources {
  const r: Resources = {};
  const cpu = () => (r.cpu ??= {});
  const memory = () => (r.memory ??= {});
  let v: string | undefined;
  if ((v = get(flags, 'blkio-weight')) !== undefined) {
    const w = int('blkio-weight', v, true);
    if (w !== 0) r.blockIO = { weight: w };
  }
  if ((v = get(flags, 'cpuset-cpus')) !== undefined) cpu().cpus = v;
  if ((v = get(flags, 'cpuset-mems')) !== undefined) cpu().mems = v;
  if ((v = get(flags, 'cpu-idle')) !== undefined) cpu().idle = int('cpu-idle', v, false);
  for (const [flag, key] of [['cpu-burst', 'burst'], ['cpu-period', 'period'], ['cpu-rt-period', 'realtimePeriod'], ['cpu-share', 'shares'], ['cpu-shares', 'shares']] as const) {
    if ((v = get(flags, flag)) !== undefined) cpu()[key] = int(flag, v, true);
  }
  for (const [flag, key] of [['cpu-quota', 'quota'], ['cpu-rt-runtime', 'realtimeRuntime']] as const) {
    if ((v = get(flags, flag)) !== undefined) cpu()[key] = int(flag, v, false);
  }
  for (const [flag, key] of [['memory', 'limit'], ['memory-swap', 'swap'], ['kernel-memory', 'kernel'], ['kernel-memory-tcp', 'kernelTCP'], ['memory-reservation', 'reservation']] as const) {
    if ((v = get(flags, flag)) !== undefined) memory()[key] = size(flag, v);
  }
  if ((v = get(flags, 'pids-limit')) !== undefined) r.pids = { limit: int('pids-limit', v, false) };
  return r;
}

/** --l3-cache-schema / --mem-bw-schema: Intel RDT, not a cgroup; undefined when neither is given. */
export function intelRdtFromUpdateFlags(flags: Record<string, string>): Pick<IntelRdt, 'l3CacheSchema' | 'memBwSchema'> | undefined {
  const l3 = get(flags, 'l3-cache-schema');
  const mb = get(flags, 'mem-bw-schema');
  if (l3 === undefined && mb === undefined) return undefined;
  return { ...(l3 !== undefined ? { l3CacheSchema: l3 } : {}), ...(mb !== undefined ? { memBwSchema: mb } : {}) };
}

const OBJECT_KEYS = ['memory', 'cpu', 'blockIO', 'pids', 'network', 'rdma', 'unified'] as const;

/**
 * `--resources FILE|-` content: a linux.resources object. `devices` is dropped: like runc, update
 * cannot change device rules.
 */
export function parseResourcesJson(text: string): Resources {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CgroupError(`update --resources: invalid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CgroupError('update --resources: expected a JSON object (linux.resources)');
  const r = { ...(value as Record<string, unknown>) };
  for (const k of OBJECT_KEYS) {
    if (r[k] !== undefined && r[k] !== null && (typeof r[k] !== 'object' || Array.isArray(r[k]))) throw new CgroupError(`update --resources: "${k}" must be an object`);
    if (r[k] === null) delete r[k];
  }
  if (r.hugepageLimits !== undefined && !Array.isArray(r.hugepageLimits)) throw new CgroupError('update --resources: "hugepageLimits" must be an array');
  delete r.devices;
  return r as Resources;
}

/**
 * The container's resources after an update: fields the update sets replace the old ones. The
 * result has no `devices`, so set() leaves the device rules of the running container alone.
 */
export function mergeResources(base: Resources | undefined, update: Resources): Resources {
  const out: Resources = { ...(base ?? {}) };
  delete out.devices;
  const merge = <K extends 'memory' | 'cpu' | 'pids' | 'network' | 'rdma' | 'unified'>(k: K) => {
    if (update[k] !== undefined) out[k] = { ...(out[k] ?? {}), ...update[k] } as Resources[K];
  };
  merge('memory');
  merge('cpu');
  merge('pids');
  merge('network');
  merge('rdma');
  merge('unified');
  if (update.blockIO) {
    const b = { ...(out.blockIO ?? {}) };
    if (update.blockIO.weight !== undefined) b.weight = update.blockIO.weight;
    if (update.blockIO.leafWeight !== undefined) b.leafWeight = update.blockIO.leafWeight;
    // Per-device entries are upserted by major:minor, as runc does.
    const upsert = <T extends { major: number; minor: number }>(old: T[] | undefined, add: T[] | undefined): T[] | undefined => {
      if (!add) return old;
      const list = [...(old ?? [])];
      for (const a of add) {
        const i = list.findIndex((o) => o.major === a.major && o.minor === a.minor);
        if (i >= 0) list[i] = { ...list[i], ...a };
        else list.push(a);
      }
      return list;
    };
    b.weightDevice = upsert(b.weightDevice, update.blockIO.weightDevice);
    b.throttleReadBpsDevice = upsert(b.throttleReadBpsDevice, update.blockIO.throttleReadBpsDevice);
    b.throttleWriteBpsDevice = upsert(b.throttleWriteBpsDevice, update.blockIO.throttleWriteBpsDevice);
    b.throttleReadIOPSDevice = upsert(b.throttleReadIOPSDevice, update.blockIO.throttleReadIOPSDevice);
    b.throttleWriteIOPSDevice = upsert(b.throttleWriteIOPSDevice, update.blockIO.throttleWriteIOPSDevice);
    for (const k of Object.keys(b) as (keyof typeof b)[]) if (b[k] === undefined) delete b[k];
    out.blockIO = b;
  }
  if (update.hugepageLimits) out.hugepageLimits = update.hugepageLimits;
  return out;
}
