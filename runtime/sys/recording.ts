// A Sys double for unit tests: records every call, returns canned results, fails on demand.
//   const sys = createRecordingSys({ fail: [{ call: 'mount', path: '/proc', code: 'EPERM' }] });
//   setupSomething(sys);  assert.equal(sys.calls.map(c => c.call), ['mkdir', 'mount', ...]);
import type { Sys, StatInfo } from './sys.js';
import { SyscallError } from './errors.js';
import { ERRNO, S } from './constants.js';

export interface RecordedCall {
  call: keyof Sys;
  args: unknown[];
}

export interface FailRule {
  call: keyof Sys;
  /** Matches when any string argument equals it (omit to match every call of that name). */
  path?: string;
  code: string; // errno name, e.g. 'EPERM'
}

export interface RecordingOptions {
  fail?: FailRule[];
  /** Results by call name: a value, or a function of the arguments. */
  results?: Partial<Record<keyof Sys, unknown | ((...args: any[]) => unknown)>>;
  /** Paths that exist for lstat/stat (path -> mode); others throw ENOENT. Default: everything is a directory. */
  files?: Record<string, number>;
}

export type RecordingSys = Sys & { calls: RecordedCall[]; callNames(): string[] };

function fakeStat(mode: number): StatInfo {
  return { mode, uid: 0, gid: 0, size: 0n, ino: 1n, dev: { major: 0, minor: 1 }, rdev: { major: 0, minor: 0 }, nlink: 1, mtimeNs: 0n };
}

const defaults: Partial<Record<keyof Sys, (...args: any[]) => unknown>> = {
  fork: () => 12345,
  cloneIntoCgroup: () => 12346,
  getpid: () => 1,
  getuid: () => 0,
  geteuid: () => 0,
  getgid: () => 0,
  waitpid: (pid: number) => ({ pid, status: 0 }),
  open: () => 10,
  openat: () => 10,
  openat2: () => 10,
  pidfdOpen: () => 11,
  pipe2: () => [20, 21],
  socketpair: () => [22, 23],
  umask: () => 0o22,
  read: () => 0,
  write: (_fd: number, b: Buffer | string) => b.length,
  statfsFlags: () => 0,
  readlink: () => '',
  access: () => true,
  capget: () => ({ effective: 0n, permitted: 0n, inheritable: 0n }),
  getrlimit: () => ({ soft: 1024n, hard: 4096n }),
  poll: (fds: unknown[]) => fds.map(() => 0),
  openpt: () => ({ master: 30, slavePath: '/dev/pts/0' }),
  exit: (code: number) => { throw new Error(`exit(${code})`); },
  execve: () => { throw new Error('execve'); },
  execvpe: () => { throw new Error('execvpe'); },
  execveat: () => { throw new Error('execveat'); },
  memfdCreate: () => 24,
  mapCode: () => 0x20000,
  allocNative: (size: number) => {
    const mem = Buffer.alloc(size);
    return {
      addr: 0x10000n, size,
      write: (offset: number, data: Buffer) => data.copy(mem, offset),
      read: (offset: number, length: number) => Buffer.from(mem.subarray(offset, offset + length)),
      free: () => {},
    };
  },
};

export function createRecordingSys(opts: RecordingOptions = {}): RecordingSys {
  const calls: RecordedCall[] = [];
  const statOf = (path: string) => {
    if (!opts.files) return fakeStat(S.IFDIR | 0o755);
    const mode = opts.files[path];
    if (mode === undefined) throw new SyscallError('lstat', ERRNO.ENOENT, path);
    return fakeStat(mode);
  };
  const target: Record<string, unknown> = {
    calls,
    callNames: () => calls.map((c) => c.call),
  };
  return new Proxy(target, {
    get(t, prop: string) {
      if (prop in t) return t[prop];
      return (...args: unknown[]) => {
        const call = prop as keyof Sys;
        calls.push({ call, args });
        for (const rule of opts.fail ?? []) {
          if (rule.call !== call) continue;
          if (rule.path !== undefined && !args.includes(rule.path)) continue;
          const path = args.find((a) => typeof a === 'string') as string | undefined;
          throw new SyscallError(call, ERRNO[rule.code] ?? 1, path);
        }
        const r = opts.results?.[call];
        if (r !== undefined) return typeof r === 'function' ? (r as (...a: unknown[]) => unknown)(...args) : r;
        if (call === 'lstat' || call === 'stat') return statOf(args[0] as string);
        if (call === 'fstat') return fakeStat(S.IFDIR | 0o755);
        return defaults[call]?.(...args);
      };
    },
  }) as unknown as RecordingSys;
}
