// Unpack progress on stderr, one line rewritten in place, only when stderr is a terminal.
import type { WriteStream } from 'node:tty';

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

export class Progress {
  private last = 0;
  private layer = 0;
  private layers = 0;
  private layerName = '';
  private layerSize = 0;
  private doneBytes = 0;
  private total = 0;
  private dirty = false;

  constructor(private readonly out: Pick<WriteStream, 'write'> | null, private readonly now: () => number = Date.now) {}

  static forStderr(): Progress {
    return new Progress(process.stderr.isTTY ? process.stderr : null);
  }

  start(layers: number, totalBytes: number): void {
    this.layers = layers;
    this.total = totalBytes;
  }

  layerStart(index: number, name: string, size: number, cached: boolean): void {
    if (index > 0 && this.layer < index) this.doneBytes += this.layerSize;
    this.layer = index;
    this.layerName = name;
    this.layerSize = size;
    this.render(0, cached ? 'cached' : '', true);
  }

  bytes(n: number): void {
    this.render(n, '', false);
  }

  finish(summary?: string): void {
    if (!this.out) return;
    if (this.dirty) this.out.write('\r\x1b[K');
    if (summary) this.out.write(`${summary}\n`);
    this.dirty = false;
  }

  private render(n: number, note: string, force: boolean): void {
    if (!this.out) return;
    const t = this.now();
    if (!force && t - this.last < 100) return;
    this.last = t;
    const all = this.total ? ` (${Math.floor(((this.doneBytes + n) / this.total) * 100)}% of ${mb(this.total)})` : '';
    this.out.write(`\r\x1b[Klayer ${this.layer + 1}/${this.layers} ${this.layerName} ${note || `${mb(n)} / ${mb(this.layerSize)}`}${all}`);
    this.dirty = true;
  }
}
