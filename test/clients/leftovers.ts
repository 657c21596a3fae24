// What a client test may leave on the machine, found and removed: cgroups under a parent the test
// chose, mounts under its temp dir, processes (shims, conmon, podman cleanup) naming its temp dir.
// Only ever touches things named by the test's own unique `tsrun-test-…` names.
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const CGROUP = '/sys/fs/cgroup';

/** Every cgroup hierarchy mounted here: the v2 root, or each v1 controller (+ unified on hybrid). */
export function hierarchies(): string[] {
  if (existsSync(join(CGROUP, 'cgroup.controllers'))) return [CGROUP];
  return readdirSync(CGROUP)
    .map((d) => join(CGROUP, d))
    .filter((p) => {
      try {
        return statSync(p).isDirectory() && existsSync(join(p, 'cgroup.procs'));
      } catch {
        return false;
      }
    });
}

function subdirs(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
  return names.flatMap((n) => [join(dir, n), ...subdirs(join(dir, n))]);
}

/**
 * Cgroups below the absolute cgroup `parent` (e.g. "/tsrun-test-ab12cd") in any hierarchy, as
 * "<hierarchy>/<path>", minus those whose last component is in `allowed` (and their children).
 */
export function cgroupsBelow(parent: string, allowed: string[] = []): string[] {
  const out: string[] = [];
  for (const h of hierarchies()) {
    for (const d of subdirs(join(h, parent))) {
      const rel = d.slice(join(h, parent).length + 1).split('/');
      if (rel.some((part) => allowed.includes(part))) continue;
      out.push(d);
    }
  }
  return out;
}

/** rmdir the cgroup `parent` and everything below it, deepest first, in every hierarchy. */
export function removeCgroupTree(parent: string): string[] {
  const problems: string[] = [];
  for (const h of hierarchies()) {
    const top = join(h, parent);
    if (!existsSync(top)) continue;
    for (const d of [...subdirs(top).reverse(), top]) {
      try {
        rmdirSync(d);
      } catch (e) {
        problems.push(`${d}: ${(e as NodeJS.ErrnoException).code}`);
      }
    }
  }
  return problems;
}

/** Mount points at or below `dir` (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(dir + '/')))
    .map((m) => m.replace(/\\040/g, ' '));
}

/** Lazily unmount everything below `dir`, deepest first. */
export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir).sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
}

export interface ProcessInfo {
  pid: number;
  cmdline: string;
}

/** Processes whose command line contains `text` (never this process). */
export function processesMentioning(text: string): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmdline.includes(text)) out.push({ pid: Number(name), cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait up to `ms` for processes naming `text` to exit; SIGKILL what is left. Returns those killed. */
export async function reapProcessesMentioning(text: string, ms: number): Promise<ProcessInfo[]> {
  const deadline = Date.now() + ms;
  let left = processesMentioning(text);
  while (left.length && Date.now() < deadline) {
    await sleep(100);
    left = processesMentioning(text);
  }
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return left;
}

/** Entries of a directory, [] when it does not exist. */
export function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
