// OCI linux.seccomp -> classic BPF (no libseccomp), and loading it. See compile.ts for the rules.
export { compileSeccomp, SECCOMP_COMPILER_VERSION, type CompiledSeccomp } from './compile.js';
export { compileCached, seccompCacheDir } from './cache.js';
export type { LinuxSeccompProfile } from './profile.js';
export { SeccompError } from './errors.js';
export { installSeccomp, sendSeccompListener, sendSeccompState, containerProcessState } from './install.js';
export { runFilter, programShape, disassemble, type SeccompData } from './vm.js';
export { SECCOMP_RET, SECCOMP_FILTER_FLAG, AUDIT_ARCH, X32_SYSCALL_BIT } from './constants.js';
