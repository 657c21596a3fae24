// Features this kernel or this version of tsrun cannot provide are refused at create, by name,
// never silently ignored.
import { existsSync } from 'node:fs';
import type { Spec } from '../../spec/types.js';
import { ContainerError } from './errors.js';

export class UnsupportedError extends ContainerError {
  constructor(field: string, why: string) {
    super(`${field}: unsupported: ${why}`);
    this.name = 'UnsupportedError';
  }
}

export function checkUnsupported(spec: Spec): void {
  const proc = spec.process;
  if (proc?.apparmorProfile && !existsSync('/sys/kernel/security/apparmor')) {
    throw new UnsupportedError('process.apparmorProfile', 'AppArmor is not enabled in this kernel');
  }
  if (proc?.selinuxLabel && !existsSync('/sys/fs/selinux/enforce')) {
    throw new UnsupportedError('process.selinuxLabel', 'SELinux is not enabled in this kernel');
  }
  if (spec.linux?.mountLabel && !existsSync('/sys/fs/selinux/enforce')) {
    throw new UnsupportedError('linux.mountLabel', 'SELinux is not enabled in this kernel');
  }
  if (spec.linux?.intelRdt) throw new UnsupportedError('linux.intelRdt', 'Intel RDT is not supported by tsrun');
}
