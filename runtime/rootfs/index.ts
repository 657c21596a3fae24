// Container filesystem setup. In the tsrun process: planRootfs. In the forked init, in this order:
// applyRootfs (mounts, devices, pivot), [console: mountConsole], [sysctls], finishRootfs.
export { planRootfs } from './plan.js';
export type { RootfsOptions, RootfsPlan, RootfsStep, PlannedMount, PlannedSymlink, PlannedDevice, MountKind } from './plan.js';
export { applyRootfs, finishRootfs, mountConsole, statfsToMountFlags } from './apply.js';
export type { RootfsHooks } from './apply.js';
export { RootfsConfigError, MountpointError } from './errors.js';
export { parseMountOptions, describeMountFlags, PROPAGATION_FLAGS } from './options.js';
export type { ParsedMountOptions } from './options.js';
export { cgroupMountLayout } from './cgroup-layout.js';
export type { CgroupMountLayout, CgroupV1Hierarchy } from './cgroup-layout.js';
