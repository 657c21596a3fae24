// A push parser for tar streams (ustar, GNU long names, PAX), written for layer extraction:
// file data is handed to the consumer as slices of the incoming chunks (no copies), and PAX values
// stay bytes, so binary xattrs (SCHILY.xattr.security.capability) survive. tar-stream turns PAX
// values into strings, which is why layers are not read with it.

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** As stored (PAX path / GNU long name / prefix + name), not yet cleaned. */
  name: string;
  /** Hard link or symlink target, as stored. */
  linkname: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, fractional when PAX gave a fraction. */
  mtime: number;
  devmajor: number;
  devminor: number;
  /** From PAX SCHILY.xattr.* (and LIBARCHIVE.xattr.*). */
  xattrs: Map<string, Buffer>;
}

/** Receives the data of a file entry; `end` is called after the last byte. */
export interface DataSink {
  write(chunk: Buffer): void;
  end(): void;
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

const BLOCK = 512;

type State = 'header' | 'data' | 'meta' | 'skip' | 'end';

/**
 * Feed chunks with `push`, then call `end`. `onEntry` returns a DataSink for entries with data
 * that it wants, or null to skip the data.
 */
export class TarParser {
  private state: State = 'header';
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private remaining = 0; // data bytes of the current entry still to come
  private padding = 0; // bytes of block padding after the data
  private sink: DataSink | null = null;
  private metaType = 0; // 'x', 'g', 'L', 'K' while collecting a meta entry
  private metaParts: Buffer[] = [];
  private pax: Map<string, Buffer> = new Map();
  private globalPax: Map<string, Buffer> = new Map();
  private longName: string | null = null;
  private longLink: string | null = null;
  private zeroBlocks = 0;
  /** Bytes of archive consumed so far (for messages). */
  offset = 0;

  constructor(private readonly onEntry: (entry: TarEntry) => DataSink | null) {}

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === 'end') return; // trailing bytes after the end marker are ignored
      if (this.state === 'data' || this.state === 'meta' || this.state === 'skip') {
        if (this.remaining > 0) {
          const n = Math.min(this.remaining, chunk.length - pos);
          const slice = chunk.subarray(pos, pos + n);
          if (this.state === 'data') this.sink!.write(slice);
          else if (this.state === 'meta') this.metaParts.push(Buffer.from(slice));
          this.remaining -= n;
          pos += n;
          this.offset += n;
          if (this.remaining > 0) continue;
          this.finishEntryData();
        }
        if (this.padding > 0) {
          const n = Math.min(this.padding, chunk.length - pos);
          this.padding -= n;
          pos += n;
          this.offset += n;
          if (this.padding > 0) continue;
        }
        this.state = 'header';
        continue;
      }
      // header: collect one block
      const need = BLOCK - this.pendingLen;
      const n = Math.min(need, chunk.length - pos);
      if (n === BLOCK) {
        this.header(chunk.subarray(pos, pos + BLOCK));
      } else {
        this.pending.push(chunk.subarray(pos, pos + n));
        this.pendingLen += n;
        if (this.pendingLen === BLOCK) {
          const block = Buffer.concat(this.pending, BLOCK);
          this.pending = [];
          this.pendingLen = 0;
          this.header(block);
        }
      }
      pos += n;
      this.offset += n;
    }
  }

  /** Call at end of input. Throws when the archive stops inside an entry. */
  end(): void {
    if (this.state === 'data' || this.state === 'meta' || this.pendingLen > 0 || (this.state === 'skip' && this.remaining > 0)) {
      throw new TarFormatError(`archive truncated at byte ${this.offset}`);
    }
  }

  private finishEntryData(): void {
    if (this.state === 'data') {
      const sink = this.sink!;
      this.sink = null;
      sink.end();
    } else if (this.state === 'meta') {
      const data = Buffer.concat(this.metaParts);
      this.metaParts = [];
      this.applyMeta(data);
    }
  }

  private applyMeta(data: Buffer): void {
    switch (this.metaType) {
      case 0x78: // 'x'
        for (const [k, v] of parsePax(data)) this.pax.set(k, v);
        break;
      case 0x67: // 'g'
        for (const [k, v] of parsePax(data)) this.globalPax.set(k, v);
        break;
      case 0x4c: // 'L'
        this.longName = cstring(data, 0, data.length);
        break;
      case 0x4b: // 'K'
        this.longLink = cstring(data, 0, data.length);
        break;
    }
  }

  private header(block: Buffer): void {
    if (isZero(block)) {
      if (++this.zeroBlocks >= 2) this.state = 'end';
      return;
    }
    this.zeroBlocks = 0;
    verifyChecksum(block, this.offset);
    const typeflag = block[156];
    const size = readNumber(block, 124, 12);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;

    if (typeflag === 0x78 || typeflag === 0x67 || typeflag === 0x4c || typeflag === 0x4b) {
      if (size > 64 * 1024 * 1024) throw new TarFormatError(`metadata entry of ${size} bytes at byte ${this.offset}`);
      this.metaType = typeflag;
      this.startData('meta', size, padding);
      return;
    }

    const pax = new Map(this.globalPax);
    for (const [k, v] of this.pax) pax.set(k, v);
    this.pax = new Map();
    const magic = block.toString('latin1', 257, 263);
    let name = cstring(block, 0, 100);
    if (magic === 'ustar\0') {
      const prefix = cstring(block, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.longName !== null) name = this.longName;
    let linkname = cstring(block, 157, 100);
    if (this.longLink !== null) linkname = this.longLink;
    this.longName = null;
    this.longLink = null;

    const entry: TarEntry = {
      name,
      linkname,
      type: 'file',
      mode: readNumber(block, 100, 8) & 0o7777,
      uid: readNumber(block, 108, 8),
      gid: readNumber(block, 116, 8),
      size,
      mtime: readNumber(block, 136, 12),
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
    };
    if (magic.startsWith('ustar')) {
      entry.devmajor = readNumber(block, 329, 8);
      entry.devminor = readNumber(block, 337, 8);
    }
    for (const [key, value] of pax) {
      if (key === 'path') entry.name = value.toString('utf8');
      else if (key === 'linkpath') entry.linkname = value.toString('utf8');
      else if (key === 'size') entry.size = paxInt(key, value);
      else if (key === 'uid') entry.uid = paxInt(key, value);
      else if (key === 'gid') entry.gid = paxInt(key, value);
      else if (key === 'mtime') entry.mtime = Number(value.toString('latin1'));
      else if (key.startsWith('SCHILY.xattr.')) entry.xattrs.set(key.slice(13), value);
      else if (key.startsWith('LIBARCHIVE.xattr.')) {
        entry.xattrs.set(decodeURIComponent(key.slice(17)), Buffer.from(value.toString('latin1'), 'base64'));
      } else if (key.startsWith('GNU.sparse.')) {
        throw new TarFormatError(`"${entry.name}" is a sparse file (GNU.sparse PAX), which tsrun does not unpack`);
      }
    }
    const dataSize = entry.size;
    const dataPadding = (BLOCK - (dataSize % BLOCK)) % BLOCK;

    switch (typeflag) {
      case 0: case 0x30: case 0x37: entry.type = 'file'; break; // '\0' '0' '7'
      case 0x31: entry.type = 'link'; break;
      case 0x32: entry.type = 'symlink'; break;
      case 0x33: entry.type = 'char'; break;
      case 0x34: entry.type = 'block'; break;
      case 0x35: entry.type = 'dir'; break;
      case 0x36: entry.type = 'fifo'; break;
      case 0x53: throw new TarFormatError(`"${entry.name}" is a GNU sparse file, which tsrun does not unpack`);
      default:
        throw new TarFormatError(`"${entry.name}" has tar type '${String.fromCharCode(typeflag)}', which tsrun does not unpack`);
    }
    if (entry.type !== 'file') {
      // Only regular files carry data. Links and directories never do (their size field is ignored,
      // as GNU tar does); a size on a device or fifo is skipped.
      const sink = this.onEntry(entry);
      if (sink) sink.end();
      const none = entry.type === 'dir' || entry.type === 'link' || entry.type === 'symlink';
      this.startData('skip', none ? 0 : dataSize, none ? 0 : dataPadding);
      return;
    }
    const sink = this.onEntry(entry);
    if (sink && dataSize === 0) {
      sink.end();
      this.startData('skip', 0, 0);
      return;
    }
    if (sink) {
      this.sink = sink;
      this.startData('data', dataSize, dataPadding);
    } else {
      this.startData('skip', dataSize, dataPadding);
    }
  }

  private startData(state: State, size: number, padding: number): void {
    this.remaining = size;
    this.padding = padding;
    if (size === 0 && state === 'meta') {
      this.applyMeta(Buffer.alloc(0));
    }
    this.state = size === 0 && padding === 0 ? 'header' : state;
  }
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i += 8) {
    if (block.readBigUInt64LE(i) !== 0n) return false;
  }
  return true;
}

function verifyChecksum(block: Buffer, offset: number): void {
  const stored = readNumber(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (sum !== stored) {
    // Some old writers summed signed chars.
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) signed += i >= 148 && i < 156 ? 0x20 : (block[i] << 24) >> 24;
    if (signed !== stored) throw new TarFormatError(`bad header checksum at byte ${offset} (not a tar archive, or corrupt)`);
  }
}

function cstring(buf: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && buf[end] !== 0) end++;
  return buf.toString('utf8', off, end);
}

/** Octal (space/NUL padded) or GNU base-256 (high bit of the first byte set). */
export function readNumber(buf: Buffer, off: number, len: number): number {
  if (buf[off] & 0x80) {
    if (buf[off] & 0x40) throw new TarFormatError('negative base-256 number in tar header');
    let v = buf[off] & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i];
    return v;
  }
  let v = 0;
  let i = off;
  const end = off + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  for (; i < end; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function paxInt(key: string, value: Buffer): number {
  const s = value.toString('latin1');
  if (!/^\d+$/.test(s)) throw new TarFormatError(`bad PAX ${key} "${s}"`);
  return Number(s);
}

/** PAX records: "<len> <key>=<value>\n", len counting the whole record. Values stay bytes. */
export function parsePax(data: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw new TarFormatError('bad PAX record (no length)');
    const len = Number(data.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length) throw new TarFormatError('bad PAX record length');
    const record = data.subarray(space + 1, pos + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError('bad PAX record (no "=")');
    out.push([record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1))]);
    pos += len;
  }
  return out;
}
