// Decoding wait(2) statuses.

export interface ExitInfo {
  code?: number;
  signal?: number;
}

export function decodeWaitStatus(status: number): ExitInfo {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff };
  return { signal: sig };
}

/** The shell convention runc uses for a foreground process: its code, or 128 + signal. */
export function exitCodeOf(info: ExitInfo): number {
  return info.signal !== undefined ? 128 + info.signal : (info.code ?? 0);
}

export function describeExit(info: ExitInfo): string {
  return info.signal !== undefined ? `killed by signal ${info.signal}` : `exit status ${info.code}`;
}
