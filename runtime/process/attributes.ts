// Process attributes applied in the init (and exec) before `ready`: I/O priority, scheduler,
// personality, CPU affinity. Planned in the parent, applied with Sys calls in the child.
import type { Sys } from '../sys/sys.js';
import type { Process, Spec } from '../../spec/types.js';

export interface ProcessAttributes {
  // filled by planAttributes; empty object = nothing to do
}

export function planAttributes(_process: Process, _spec?: Spec): ProcessAttributes {
  return {};
}

export function applyAttributes(_sys: Sys, _attrs: ProcessAttributes): void {}
