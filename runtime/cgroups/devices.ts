// Device access rules: the config's `linux.resources.devices`, then runc's default allow list,
// then every device the container gets in `linux.devices` — in that order, the later rule winning.
import type { Device, DeviceCgroup } from '../../spec/types.js';
import { CgroupError } from './errors.js';

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  /** -1 = any */
  major: number;
  minor: number;
  /** Some of "rwm", each at most once. */
  access: string;
}

function rule(allow: boolean, type: DeviceRule['type'], major: number, minor: number, access: string): DeviceRule {
  return { allow, type, major, minor, access };
}

/** runc's AllowedDevices: mknod of any char/block device, and the usual /dev entries. */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  rule(true, 'c', -1, -1, 'm'),
  rule(true, 'b', -1, -1, 'm'),
  rule(true, 'c', 1, 3, 'rwm'), // /dev/null
  rule(true, 'c', 1, 8, 'rwm'), // /dev/random
  rule(true, 'c', 1, 7, 'rwm'), // /dev/full
  rule(true, 'c', 5, 0, 'rwm'), // /dev/tty
  rule(true, 'c', 1, 5, 'rwm'), // /dev/zero
  rule(true, 'c', 1, 9, 'rwm'), // /dev/urandom
  rule(true, 'c', 136, -1, 'rwm'), // /dev/pts/*
  rule(true, 'c', 5, 2, 'rwm'), // /dev/ptmx
  rule(true, 'c', 10, 200, 'rwm'), // /dev/net/tun
];

function checkAccess(access: string, field: string): string {
  if (!/^[rwm]+$/.test(access) || new Set(access).size !== access.length) {
    throw new CgroupError(`cgroup: device access ${JSON.stringify(access)} must be made of the letters r, w, m`, { field });
  }
  return access;
}

/** The config's rules, validated; type defaults to "a", major/minor to any, access to "rwm". */
export function rulesFromConfig(devices: DeviceCgroup[]): DeviceRule[] {
  return devices.map((d, i) => {
    const field = `linux.resources.devices[${i}]`;
    const type = d.type ?? 'a';
    if (type !== 'a' && type !== 'c' && type !== 'b') throw new CgroupError(`cgroup: device type ${JSON.stringify(type)} must be a, c or b`, { field: `${field}.type` });
    for (const k of ['major', 'minor'] as const) {
      const v = d[k];
      if (v !== undefined && v !== -1 && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
        throw new CgroupError(`cgroup: device ${k} ${v} is not a valid number`, { field: `${field}.${k}` });
      }
    }
    return rule(d.allow, type, d.major ?? -1, d.minor ?? -1, checkAccess(d.access ?? 'rwm', `${field}.access`));
  });
}

/** Rules for the nodes in `linux.devices` (fifos need none). */
export function rulesForLinuxDevices(devices: Device[]): DeviceRule[] {
  const out: DeviceRule[] = [];
  for (const d of devices) {
    if (d.type === 'p' || d.major === undefined || d.minor === undefined) continue;
    out.push(rule(true, d.type === 'b' ? 'b' : 'c', d.major, d.minor, 'rwm'));
  }
  return out;
}

export function effectiveDeviceRules(configRules: DeviceCgroup[], linuxDevices: Device[] = []): DeviceRule[] {
  return [...rulesFromConfig(configRules), ...DEFAULT_DEVICE_RULES, ...rulesForLinuxDevices(linuxDevices)];
}

export function matchesEverything(r: DeviceRule): boolean {
  return r.type === 'a' && r.major === -1 && r.minor === -1 && r.access.length === 3;
}

/** The v1 devices.allow / devices.deny line: "c 1:3 rwm", "a *:* rwm", "c 136:* rwm". */
export function v1DeviceLine(r: DeviceRule): string {
  const n = (v: number) => (v === -1 ? '*' : String(v));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access}`;
}
