// Conversions from the OCI (cgroup v1 shaped) values to cgroup v2 files, as runc does them.
import { CgroupError } from './errors.js';

/**
 * cpu.shares [2, 262144] (default 1024) -> cpu.weight [1, 10000] (default 100). runc's current
 * formula: a quadratic in log2(shares) through (2,1), (1024,100), (262144,10000); 0 means unset.
 * (runc ≤ 1.2 used the linear 1 + (shares-2)*9999/262142, which maps 1024 to 39.)
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return Math.ceil(Math.pow(10, exponent));
}

/** blkio.weight [10, 1000] -> io.weight [1, 10000], linearly; 0 means unset. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap; memory.swap.max is swap alone. Returns the v2 value
 * (-1 = "max", 0 = leave unset unless swap was given) or throws naming the field.
 */
export function memorySwapToV2(swap: number, memory: number): number {
  const field = 'linux.resources.memory.swap';
  if (memory === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (memory === -1) return swap;
  if (memory === 0) throw new CgroupError('cgroup: unable to set swap limit without memory limit', { field });
  if (memory < 0) throw new CgroupError(`cgroup: invalid memory limit ${memory}`, { field: 'linux.resources.memory.limit' });
  if (swap < memory) throw new CgroupError(`cgroup: memory+swap limit ${swap} should be >= memory limit ${memory}`, { field });
  return swap - memory;
}

/** v2 files take "max" for unlimited; -1 in the config means unlimited. */
export function v2Limit(value: number): string {
  return value === -1 ? 'max' : String(value);
}
