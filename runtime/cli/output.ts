// stdout and stderr of the CLI, written with write(2). Node builds process.stdout and process.stderr
// on first use and that loads its stream machinery: ~4 ms of a ~50 ms command, for one write.
import { writeSync } from 'node:fs';

/** Fds whose pipe turned out non-blocking and full: from then on Node's stream queues the writes, in order. */
const streamed = new Set<number>();

function writeAll(fd: 1 | 2, text: string): void {
  const stream = () => (fd === 1 ? process.stdout : process.stderr);
  if (streamed.has(fd)) {
    stream().write(text);
    return;
  }
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      streamed.add(fd);
      stream().write(buf);
      return;
    }
  }
}

export function writeOut(text: string): void {
  writeAll(1, text);
}

/** Best effort: with stderr gone there is nowhere left to report a failure to. */
export function writeErr(text: string): void {
  try {
    writeAll(2, text);
  } catch {
    // closed or broken stderr
  }
}
