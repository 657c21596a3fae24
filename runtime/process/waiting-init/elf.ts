// A minimal static ELF64 executable: the headers, then one read+execute segment loaded at a fixed
// address, holding the whole file. No sections, no dynamic linking, a non-executable stack.

export const EM_X86_64 = 62;
/** Where the file is mapped: what the absolute addresses in its code refer to. */
export const LOAD_ADDRESS = 0x400000;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const PHDR_COUNT = 2;
/** The body (data, then code) starts right after the headers, at LOAD_ADDRESS + HEADERS_SIZE. */
export const HEADERS_SIZE = EHDR_SIZE + PHDR_COUNT * PHDR_SIZE;

const PT_LOAD = 1;
const PT_GNU_STACK = 0x6474e551;
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;

/** `body` is placed at LOAD_ADDRESS + HEADERS_SIZE; execution starts `entry` bytes into it. */
export function elfExecutable(machine: number, body: Buffer, entry: number): Buffer {
  const file = Buffer.alloc(HEADERS_SIZE + body.length);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */], 0);
  file.writeUInt16LE(2, 16); // ET_EXEC
  file.writeUInt16LE(machine, 18);
  file.writeUInt32LE(1, 20); // EV_CURRENT
  file.writeBigUInt64LE(BigInt(LOAD_ADDRESS + HEADERS_SIZE + entry), 24);
  file.writeBigUInt64LE(BigInt(EHDR_SIZE), 32); // program headers right after this one
  file.writeUInt16LE(EHDR_SIZE, 52);
  file.writeUInt16LE(PHDR_SIZE, 54);
  file.writeUInt16LE(PHDR_COUNT, 56);

  const load = EHDR_SIZE;
  file.writeUInt32LE(PT_LOAD, load);
  file.writeUInt32LE(PF_R | PF_X, load + 4);
  file.writeBigUInt64LE(0n, load + 8); // from the start of the file
  file.writeBigUInt64LE(BigInt(LOAD_ADDRESS), load + 16);
  file.writeBigUInt64LE(BigInt(LOAD_ADDRESS), load + 24);
  file.writeBigUInt64LE(BigInt(file.length), load + 32);
  file.writeBigUInt64LE(BigInt(file.length), load + 40);
  file.writeBigUInt64LE(0x1000n, load + 48);

  const stack = EHDR_SIZE + PHDR_SIZE;
  file.writeUInt32LE(PT_GNU_STACK, stack);
  file.writeUInt32LE(PF_R | PF_W, stack + 4);

  body.copy(file, HEADERS_SIZE);
  return file;
}
