// Helpers for the terminal tests: a console-socket receiver (what containerd's shim and conmon do),
// the pty master it receives, and tsrun processes started without blocking the event loop.
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { linuxSys } from '../../runtime/sys/linux.js';
import { POLLIN } from '../../runtime/sys/constants.js';
import { TSRUN, type Sandbox, type Result } from '../support/containers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fd` without blocking the event loop; true when readable (or hung up) before the deadline. */
async function readable(fd: number, deadline: number): Promise<boolean> {
  for (;;) {
    const [rev] = linuxSys.poll([{ fd, events: POLLIN }], 0);
    if (rev) return true;
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
}

export interface Received {
  /** The fd that came by SCM_RIGHTS (ours now: close it). */
  fd: number;
  payload: string;
  /** Our end of the accepted connection. */
  conn: net.Socket;
}

/**
 * A listening unix socket. Node cannot receive fds, so the accepted socket's fd (libuv's handle,
 * undocumented but stable on Linux) is handed to Sys.recvFd; pauseOnConnect keeps libuv from
 * reading the message first.
 */
export class ConsoleSocket {
  private server!: net.Server;
  private waiting: ((s: net.Socket) => void)[] = [];
  private queued: net.Socket[] = [];
  private conns: net.Socket[] = [];

  private constructor(readonly path: string) {}

  static async listen(path: string): Promise<ConsoleSocket> {
    const cs = new ConsoleSocket(path);
    cs.server = net.createServer({ pauseOnConnect: true }, (s) => {
      cs.conns.push(s);
      const w = cs.waiting.shift();
      if (w) w(s);
      else cs.queued.push(s);
    });
    await new Promise<void>((resolve, reject) => cs.server.once('error', reject).listen(path, resolve));
    return cs;
  }

  async accept(timeoutMs = 20_000): Promise<net.Socket> {
    const q = this.queued.shift();
    if (q) return q;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection on the console socket')), timeoutMs);
      this.waiting.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  /** Accept a connection and receive its one message. */
  async receive(timeoutMs = 20_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    const conn = await this.accept(timeoutMs);
    const sock = (conn as unknown as { _handle: { fd: number } })._handle.fd;
    if (!(await readable(sock, deadline))) throw new Error('nothing received on the console socket');
    const { fd, payload } = linuxSys.recvFd(sock, 4096);
    return { fd, payload: payload.toString(), conn };
  }

  /** What follows the message on the connection: bytes read until EOF (waits for EOF). */
  static async rest(conn: net.Socket, timeoutMs = 20_000): Promise<number> {
    const sock = (conn as unknown as { _handle: { fd: number } })._handle.fd;
    const buf = Buffer.alloc(4096);
    let total = 0;
    for (;;) {
      if (!(await readable(sock, Date.now() + timeoutMs))) throw new Error('the console socket was not closed');
      const n = linuxSys.read(sock, buf);
      if (n === 0) return total;
      total += n;
    }
  }

  close(): void {
    for (const c of this.conns) c.destroy();
    this.server.close();
  }
}

/** A pty master received from a container. */
export class Master {
  output = '';
  ended = false;
  constructor(readonly fd: number) {}

  write(text: string): void {
    linuxSys.write(this.fd, text);
  }

  /** Read until `done(output)` or the slave side is gone (EIO); throws on timeout. */
  async readUntil(done: (out: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const buf = Buffer.alloc(65536);
    while (!this.ended && !done(this.output)) {
      if (!(await readable(this.fd, deadline))) throw new Error(`timed out reading the pty; got ${JSON.stringify(this.output)}`);
      try {
        const n = linuxSys.read(this.fd, buf);
        if (n === 0) this.ended = true;
        this.output += buf.subarray(0, n).toString();
      } catch {
        this.ended = true; // EIO: every slave fd closed
      }
    }
    return this.output;
  }

  /** Read until the process side is closed. */
  readToEnd(timeoutMs = 20_000): Promise<string> {
    return this.readUntil(() => false, timeoutMs);
  }

  close(): void {
    linuxSys.close(this.fd);
  }
}

export interface Running {
  child: ChildProcess;
  done: Promise<Result>;
}

/** tsrun in the background, stdout/stderr to files (see Sandbox.tsrun), so the test can talk to it. */
export function spawnTsrun(sb: Sandbox, args: string[], name = 'bg'): Running {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const out = join(sb.dir, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  const outFd = openSync(`${out}.out`, 'w+');
  const errFd = openSync(`${out}.err`, 'w+');
  const child = spawn(TSRUN, ['--root', sb.root, ...args], { env, stdio: ['ignore', outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  const done = new Promise<Result>((resolve) => {
    child.on('exit', (code, signal) => {
      const read = (f: string) => {
        try {
          return readFileSync(f, 'utf8');
        } catch {
          return ''; // the sandbox is already gone
        }
      };
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), stdout: read(`${out}.out`), stderr: read(`${out}.err`) });
    });
  });
  return { child, done };
}

/** Resolves with the result, or kills the process and rejects after `ms`. */
export async function within(r: Running, ms = 30_000): Promise<Result> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      r.child.kill('SIGKILL');
      reject(new Error('tsrun did not finish in time'));
    }, ms);
  });
  try {
    return await Promise.race([r.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Run `command` (a shell command line) under util-linux `script`, which gives it a pty as its
 * controlling terminal; `interact` gets the output so far and a writer for its input.
 */
export async function underScript(
  command: string,
  interact: (io: { write: (s: string) => void; waitFor: (re: RegExp, ms?: number) => Promise<string> }) => Promise<void>,
  timeoutMs = 30_000,
): Promise<{ code: number; output: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn('script', ['-qefc', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const waitFor = (re: RegExp, ms = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (re.test(output)) {
          listeners.delete(check);
          clearTimeout(t);
          resolve(output);
        }
      };
      const t = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${re}; output: ${JSON.stringify(output)}`));
      }, ms);
      listeners.add(check);
      check();
    });
  try {
    await interact({ write: (s) => child.stdin!.write(s), waitFor });
    const code = await exited;
    return { code, output };
  } finally {
    clearTimeout(killer);
    child.stdin!.end();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Processes whose cgroup path contains `text` (the sandbox suffix): none must be left behind. */
export function processesInCgroups(text: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // Zombies do not count: a failed init killed by `create` waits for the host's init to reap it.
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${d}/status`, 'utf8'))) continue;
      if (readFileSync(`/proc/${d}/cgroup`, 'utf8').includes(text)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}
