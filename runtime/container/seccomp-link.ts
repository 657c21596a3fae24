import type { Spec } from '../../spec/types.js';
import { compileSeccomp } from '../seccomp/index.js';

/** The config's seccomp profile compiled to a classic BPF program, or undefined for none. */
export function compileSeccompFor(spec: Spec): { filter: Buffer; flags: number } | undefined {
  const profile = spec.linux?.seccomp;
  if (!profile) return undefined;
  const compiled = compileSeccomp(profile);
  return { filter: compiled.filter, flags: compiled.flags };
}
