// Memory at a known address, for bpf(2) attributes that carry pointers (instructions, license,
// verifier log, program ids). The Sys interface passes a Buffer but cannot tell its address, so
// this maps a small unlinked tmpfs file (mmap through Sys.rawSyscall) and moves bytes in and out
// of it with pread/pwrite on the file — the kernel sees the same pages at `addr`.
// TODO(sys room): replace with a Sys call that takes the buffers (see the cgroups report).
import { closeSync, constants, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sys } from '../sys/sys.js';
import { SyscallError } from '../sys/errors.js';

const NR = process.arch === 'arm64' ? { mmap: 222, munmap: 215 } : { mmap: 9, munmap: 11 };
const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;

export interface NativeMemory {
  readonly addr: bigint;
  readonly size: number;
  write(offset: number, data: Buffer): void;
  read(offset: number, length: number): Buffer;
  free(): void;
}

function openScratchFile(): number {
  for (const dir of ['/dev/shm', tmpdir()]) {
    try {
      return openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600);
    } catch {
      // no O_TMPFILE support there: try the next place, then a named file
    }
  }
  const path = join(tmpdir(), `tsrun-bpf-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
  unlinkSync(path);
  return fd;
}

export function allocNative(sys: Sys, size: number): NativeMemory {
  const length = Math.ceil(size / 4096) * 4096;
  const fd = openScratchFile();
  try {
    ftruncateSync(fd, length);
    const r = sys.rawSyscall(NR.mmap, 0, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r.ret < 0n || r.errno) throw new SyscallError('mmap', r.errno || Number(-r.ret));
    const addr = r.ret;
    let freed = false;
    return {
      addr,
      size: length,
      write(offset, data) {
        if (offset + data.length > length) throw new RangeError('native memory: write past the end');
        writeSync(fd, data, 0, data.length, offset);
      },
      read(offset, len) {
        const out = Buffer.alloc(len);
        readSync(fd, out, 0, len, offset);
        return out;
      },
      free() {
        if (freed) return;
        freed = true;
        sys.rawSyscall(NR.munmap, addr, length);
        closeSync(fd);
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
