// Memory of one process from /proc: peak and current RSS (status) and its private/proportional
// share (smaps_rollup), all in KiB.
import { readFileSync } from 'node:fs';

function fields(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export function processMemory(pid) {
  const status = fields(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const rollup = fields(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return {
    hwm: status.VmHWM,
    rss: rollup.Rss,
    pss: rollup.Pss,
    private: (rollup.Private_Clean ?? 0) + (rollup.Private_Dirty ?? 0),
  };
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function waitGone(pid, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > end) throw new Error(`process ${pid} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
