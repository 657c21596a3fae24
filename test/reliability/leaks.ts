// What a Sandbox's containers may leave behind on the host, and asynchronous tsrun runs (for
// parallel load and for killing a command halfway). Everything is scoped to one Sandbox (its
// directory and its random suffix), so other tests running at the same time do not disturb the counts.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TSRUN, type Result, type Sandbox } from '../support/containers.js';

export interface Leftovers {
  stateDirs: string[];
  mounts: string[];
  cgroups: string[];
  processes: string[];
}

export function leftovers(sb: Sandbox): Leftovers {
  return {
    stateDirs: existsSync(sb.root) ? readdirSync(sb.root) : [],
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(sb.dir) || l.includes(sb.suffix)),
    cgroups: sandboxCgroups(sb.suffix),
    processes: sandboxProcesses(sb),
  };
}

export function isClean(l: Leftovers): boolean {
  return !l.stateDirs.length && !l.mounts.length && !l.cgroups.length && !l.processes.length;
}

/** Leftovers once dying processes had up to `ms` to go (orphans are reaped by PID 1). */
export async function settledLeftovers(sb: Sandbox, ms = 3000): Promise<Leftovers> {
  const until = Date.now() + ms;
  for (;;) {
    const l = leftovers(sb);
    if (isClean(l) || Date.now() > until) return l;
    await sleep(50);
  }
}

export function describe(l: Leftovers): string {
  return JSON.stringify(l, null, 1);
}

/** Cgroup directories of this sandbox: at the top of each hierarchy, or under tsrun's default /tsrun parent. */
function sandboxCgroups(suffix: string): string[] {
  const out: string[] = [];
  for (const ctrl of safeReaddir('/sys/fs/cgroup')) {
    for (const parent of ['', 'tsrun']) {
      for (const d of safeReaddir(join('/sys/fs/cgroup', ctrl, parent))) {
        if (d.includes(suffix)) out.push(join(ctrl, parent, d));
      }
    }
  }
  return out;
}

/** Live (not zombie) processes that are tsrun for this sandbox, forks of it, or inside its cgroups. */
function sandboxProcesses(sb: Sandbox): string[] {
  const out: string[] = [];
  for (const p of safeReaddir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      if (/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))) continue;
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const cgroup = readFileSync(`/proc/${p}/cgroup`, 'utf8');
      if (cmdline.includes(sb.dir) || cgroup.includes(sb.suffix)) out.push(`${p} ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export function openFds(pid: number | 'self' = 'self'): string[] {
  return safeReaddir(`/proc/${pid}/fd`).map((fd) => {
    try {
      return `${fd} -> ${readlinkSync(`/proc/${pid}/fd/${fd}`)}`;
    } catch {
      return `${fd} -> ?`;
    }
  });
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Running {
  child: ChildProcess;
  done: Promise<Result>;
  /** Resolves when stderr contains `text` (or rejects after `ms`). */
  waitForStderr(text: string, ms?: number): Promise<void>;
}

/**
 * Start `tsrun --root <sandbox> ...args` without waiting. Output goes to files, never pipes: a
 * container started by the command inherits them.
 */
export function startTsrun(sb: Sandbox, args: string[], env: Record<string, string> = {}): Running {
  const dir = mkdtempSync(join(sb.dir, 'out-'));
  const outFd = openSync(join(dir, 'out'), 'w+');
  const errFd = openSync(join(dir, 'err'), 'w+');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS;
  const child = spawn(TSRUN, ['--root', sb.root, ...args], { env: childEnv, stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const done = new Promise<Result>((resolve) => {
    child.on('exit', (code, signal) => {
      const r = { code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), stdout: read('out'), stderr: read('err') };
      rmSync(dir, { recursive: true, force: true });
      resolve(r);
    });
  });
  return {
    child,
    done,
    async waitForStderr(text, ms = 20_000) {
      const until = Date.now() + ms;
      for (;;) {
        let err = '';
        try {
          err = read('err');
        } catch {
          // removed: the command has exited
        }
        if (err.includes(text)) return;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`tsrun exited before "${text}": ${err}`);
        if (Date.now() > until) throw new Error(`timed out waiting for "${text}" on tsrun's stderr: ${err}`);
        await sleep(20);
      }
    },
  };
}

export function tsrunAsync(sb: Sandbox, args: string[]): Promise<Result> {
  return startTsrun(sb, args).done;
}
