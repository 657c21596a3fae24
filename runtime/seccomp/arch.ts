// The architectures tsrun can filter: the ones a kernel running Node on x86_64 or aarch64 (or their
// 32-bit forms) can report in seccomp_data.arch. Syscall tables come from tables/*.json.
import { AUDIT_ARCH } from './constants.js';
import x86_64 from './tables/x86_64.json' with { type: 'json' };
import i386 from './tables/i386.json' with { type: 'json' };
import x32 from './tables/x32.json' with { type: 'json' };
import aarch64 from './tables/aarch64.json' with { type: 'json' };
import arm from './tables/arm.json' with { type: 'json' };

export type TableName = 'x86_64' | 'i386' | 'x32' | 'aarch64' | 'arm';

export interface ArchInfo {
  /** The OCI / libseccomp name, e.g. SCMP_ARCH_X86_64. */
  scmp: string;
  table: TableName;
  /** seccomp_data.arch for this ABI (x32 shares AUDIT_ARCH_X86_64 with x86_64). */
  audit: number;
  /** Argument width as libseccomp treats it: 32-bit ABIs compare the low half only. */
  argBits: 32 | 64;
}

export const ARCHES: Readonly<Record<string, ArchInfo>> = {
  SCMP_ARCH_X86_64: { scmp: 'SCMP_ARCH_X86_64', table: 'x86_64', audit: AUDIT_ARCH.X86_64, argBits: 64 },
  SCMP_ARCH_X32: { scmp: 'SCMP_ARCH_X32', table: 'x32', audit: AUDIT_ARCH.X86_64, argBits: 32 },
  SCMP_ARCH_X86: { scmp: 'SCMP_ARCH_X86', table: 'i386', audit: AUDIT_ARCH.I386, argBits: 32 },
  SCMP_ARCH_AARCH64: { scmp: 'SCMP_ARCH_AARCH64', table: 'aarch64', audit: AUDIT_ARCH.AARCH64, argBits: 64 },
  SCMP_ARCH_ARM: { scmp: 'SCMP_ARCH_ARM', table: 'arm', audit: AUDIT_ARCH.ARM, argBits: 32 },
};

const NATIVE: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'SCMP_ARCH_X86_64',
  ia32: 'SCMP_ARCH_X86',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
};

/** The seccomp architecture of a Node `process.arch`, or undefined when tsrun has no table for it. */
export function nativeArch(arch: NodeJS.Architecture): ArchInfo | undefined {
  const name = NATIVE[arch];
  return name ? ARCHES[name] : undefined;
}

const TABLES: Record<TableName, Record<string, number>> = { x86_64, i386, x32, aarch64, arm };
const tables = new Map<TableName, ReadonlyMap<string, number>>();

export function syscallTable(name: TableName): ReadonlyMap<string, number> {
  let t = tables.get(name);
  if (!t) {
    t = new Map(Object.entries(TABLES[name]));
    tables.set(name, t);
  }
  return t;
}
