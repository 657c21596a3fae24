// The cgroup manager: layouts (v1, v2, hybrid), resources, freezer, stats, v2 device eBPF filter.
//   const m = createCgroupManager({ id, cgroupsPath: spec.linux?.cgroupsPath, resources, linuxDevices: spec.linux?.devices });
//   m.create(); m.apply(pid); m.set(resources); state.cgroupPaths = m.paths();
//   later: loadCgroupManager(state.cgroupPaths).freeze() / killAll(9) / stats() / destroy()
import type { Resources } from '../../spec/types.js';

export type LinuxResources = Resources;
export { createCgroupManager, loadCgroupManager, type CgroupManager, type CreateManagerOptions, type ManagerDeps } from './manager.js';
export { detectLayout, type CgroupLayout, type LayoutMode } from './layout.js';
export { CgroupError } from './errors.js';
export { nodeCgroupFs, MemoryCgroupFs, type CgroupFs } from './cgroup-fs.js';
export type { FreezerState } from './freezer.js';
export { statsEventJson, statsToRuncShape, jsonWithBigints, type Stats } from './stats.js';
export { cpuSharesToWeight, blkioWeightToIoWeight } from './convert.js';
export { effectiveDeviceRules, DEFAULT_DEVICE_RULES, type DeviceRule } from './devices.js';
export { deviceFilterProgram } from './ebpf.js';
export { bpfDeviceFilterLoader, type DeviceFilterLoader } from './device-filter.js';
export { resourcesFromUpdateFlags, parseResourcesJson, mergeResources, intelRdtFromUpdateFlags, parseSize } from './update-flags.js';
