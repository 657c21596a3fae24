// Load a device filter program and attach it to a cgroup v2 directory (BPF_CGROUP_DEVICE),
// replacing the filter(s) a previous `set` attached, as runc does on update.
import { closeSync, constants, openSync } from 'node:fs';
import type { Sys } from '../sys/sys.js';
import { SyscallError } from '../sys/errors.js';
import { CgroupError } from './errors.js';

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const BPF_F_REPLACE = 4;
const LICENSE = 'Apache';

export interface DeviceFilterLoader {
  /** Attach `program` (from deviceFilterProgram) to the cgroup directory, replacing earlier ones. */
  attach(dir: string, program: Buffer): void;
  /** Ids of the BPF_CGROUP_DEVICE programs attached to the directory. */
  attached(dir: string): number[];
  /** Detach every device program from the directory. */
  detachAll(dir: string): void;
}

function bpfError(what: string, dir: string, e: unknown, log?: string): CgroupError {
  const code = e instanceof SyscallError ? e.code : String(e);
  return new CgroupError(`cgroup: ${what} for ${dir}: ${code}${log ? `: ${log}` : ''}`, { code: e instanceof SyscallError ? e.code : undefined, path: dir });
}

export function bpfDeviceFilterLoader(sys: Sys): DeviceFilterLoader {
  function loadProgram(dir: string, program: Buffer): number {
    const logSize = 64 * 1024;
    const licenseOff = program.length;
    const logOff = Math.ceil((licenseOff + LICENSE.length + 1) / 8) * 8;
    const mem = sys.allocNative(logOff + logSize);
    try {
      mem.write(0, program);
      mem.write(licenseOff, Buffer.from(LICENSE + '\0'));
      const attr = Buffer.alloc(72);
      attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
      attr.writeUInt32LE(program.length / 8, 4);
      attr.writeBigUInt64LE(mem.addr, 8);
      attr.writeBigUInt64LE(mem.addr + BigInt(licenseOff), 16);
      for (let attempt = 0; ; attempt++) {
        try {
          return sys.bpf(BPF_PROG_LOAD, attr);
        } catch (e) {
          // The verifier can be interrupted by a signal.
          if (e instanceof SyscallError && e.code === 'EAGAIN' && attempt < 30) continue;
          if (attr.readUInt32LE(24) === 0) {
            // Load once more with the verifier log on, to say why.
            attr.writeUInt32LE(1, 24);
            attr.writeUInt32LE(logSize, 28);
            attr.writeBigUInt64LE(mem.addr + BigInt(logOff), 32);
            try {
              return sys.bpf(BPF_PROG_LOAD, attr);
            } catch {
              const log = mem.read(logOff, logSize).toString('utf8').replace(/\0[\s\S]*$/, '').trim();
              throw bpfError('BPF_PROG_LOAD (device filter)', dir, e, log.split('\n').slice(-3).join(' | '));
            }
          }
          throw bpfError('BPF_PROG_LOAD (device filter)', dir, e);
        }
      }
    } finally {
      mem.free();
    }
  }

  function queryIds(dirFd: number, dir: string): number[] {
    let capacity = 64;
    for (let tries = 0; tries < 10; tries++) {
      const mem = sys.allocNative(capacity * 4);
      try {
        // Kernels 6.17+ write the `revision` field at offset 56 whatever size is passed: give room.
        const attr = Buffer.alloc(72);
        attr.writeUInt32LE(dirFd, 0);
        attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
        attr.writeBigUInt64LE(mem.addr, 16);
        attr.writeUInt32LE(capacity, 24);
        try {
          sys.bpf(BPF_PROG_QUERY, attr);
        } catch (e) {
          if (e instanceof SyscallError && e.code === 'ENOSPC') {
            capacity = Math.max(attr.readUInt32LE(24), capacity * 2);
            continue;
          }
          throw bpfError('BPF_PROG_QUERY (device programs)', dir, e);
        }
        const count = attr.readUInt32LE(24);
        const ids = mem.read(0, count * 4);
        return Array.from({ length: count }, (_, i) => ids.readUInt32LE(i * 4));
      } finally {
        mem.free();
      }
    }
    throw new CgroupError(`cgroup: could not list the device programs attached to ${dir}`, { path: dir });
  }

  function progFdById(id: number, dir: string): number | undefined {
    const attr = Buffer.alloc(16);
    attr.writeUInt32LE(id, 0);
    try {
      return sys.bpf(BPF_PROG_GET_FD_BY_ID, attr);
    } catch (e) {
      // A program an LSM keeps from us can only restrict further; leave it (as runc does).
      if (e instanceof SyscallError && (e.code === 'EPERM' || e.code === 'EACCES')) return undefined;
      if (e instanceof SyscallError && e.code === 'ENOENT') return undefined; // gone meanwhile
      throw bpfError(`BPF_PROG_GET_FD_BY_ID ${id}`, dir, e);
    }
  }

  function attachAttr(dirFd: number, progFd: number, flags: number, replaceFd = 0): Buffer {
    const attr = Buffer.alloc(20);
    attr.writeUInt32LE(dirFd, 0);
    attr.writeUInt32LE(progFd, 4);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
    attr.writeUInt32LE(flags, 12);
    attr.writeUInt32LE(replaceFd, 16);
    return attr;
  }

  function withDir<T>(dir: string, fn: (dirFd: number) => T): T {
    let dirFd: number;
    try {
      dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (e) {
      throw new CgroupError(`cgroup: open ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`, { path: dir });
    }
    try {
      return fn(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  function oldFds(dirFd: number, dir: string): number[] {
    return queryIds(dirFd, dir).map((id) => progFdById(id, dir)).filter((fd): fd is number => fd !== undefined);
  }

  return {
    attach(dir, program) {
      withDir(dir, (dirFd) => {
        const old = oldFds(dirFd, dir);
        let progFd = -1;
        try {
          progFd = loadProgram(dir, program);
          let replaced = false;
          if (old.length === 1) {
            try {
              sys.bpf(BPF_PROG_ATTACH, attachAttr(dirFd, progFd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, old[0]));
              replaced = true;
            } catch (e) {
              if (!(e instanceof SyscallError && e.code === 'EINVAL')) throw bpfError('BPF_PROG_ATTACH (replace)', dir, e);
            }
          }
          if (!replaced) {
            try {
              sys.bpf(BPF_PROG_ATTACH, attachAttr(dirFd, progFd, BPF_F_ALLOW_MULTI));
            } catch (e) {
              throw bpfError('BPF_PROG_ATTACH', dir, e);
            }
            for (const fd of old) {
              try {
                sys.bpf(BPF_PROG_DETACH, attachAttr(dirFd, fd, 0));
              } catch (e) {
                throw bpfError('BPF_PROG_DETACH (old device filter)', dir, e);
              }
            }
          }
        } finally {
          if (progFd >= 0) sys.close(progFd);
          for (const fd of old) sys.close(fd);
        }
      });
    },
    attached(dir) {
      return withDir(dir, (dirFd) => queryIds(dirFd, dir));
    },
    detachAll(dir) {
      withDir(dir, (dirFd) => {
        for (const fd of oldFds(dirFd, dir)) {
          try {
            sys.bpf(BPF_PROG_DETACH, attachAttr(dirFd, fd, 0));
          } catch (e) {
            throw bpfError('BPF_PROG_DETACH', dir, e);
          } finally {
            sys.close(fd);
          }
        }
      });
    },
  };
}
