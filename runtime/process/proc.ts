// Reading /proc about host processes (runs in the tsrun process, not in a forked child).
import { readFileSync } from 'node:fs';

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined if gone. */
export function processStartTime(pid: number): string | undefined {
  if (!(pid > 0)) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // zombie or dead: not running
  return fields[19];
}

/** True if `pid` is alive and still the process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: string): boolean {
  return pid > 0 && processStartTime(pid) === startTime;
}
