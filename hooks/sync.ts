// Hooks run from inside the forked init (createContainer before pivot_root, startContainer right
// before the user's execve), so they land in the container's namespaces. The init is a
// single-threaded fork of Node without an event loop: only synchronous Sys calls here, no fs,
// child_process, timers or console.
//
// Where the path resolves follows from when the init calls this: createContainer runs before
// pivot_root, so its path resolves on the host root (runtime-spec: "MUST resolve in the runtime
// namespace"); startContainer runs after it, so its path resolves in the container.
//
// Writing into a pipe whose reader is gone gives EPIPE rather than killing the init because Node
// ignores SIGPIPE and the fork inherits that; the hook itself gets default signal dispositions.
import type { Hook } from '../spec/types.js';
import type { Sys } from '../runtime/sys/sys.js';
import { SyscallError } from '../runtime/sys/errors.js';
import { CLOSE_RANGE_CLOEXEC, errnoName, F, O, POLLHUP, POLLIN, POLLOUT, WNOHANG } from '../runtime/sys/constants.js';
import { HookError, type HookKind } from './errors.js';
import { BoundedOutput, failureOutput, hookCommand, type HookCommand } from './command.js';

const POLLERR = 0x8;
const POLLNVAL = 0x20;
const SIGKILL = 9;
/** Without a pidfd (old kernels) the exit is noticed by polling waitpid this often. */
const WAITPID_SLICE_MS = 10;
/** After the hook exited, read at most this much more from pipes a background child may still feed. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * Run one hook and wait for it: `stateJson` on its stdin, its stdout/stderr captured (bounded),
 * exactly its env, SIGKILL at its timeout. Throws HookError when it fails in any way.
 */
export function runHookSync(sys: Sys, hook: Hook, stateJson: Buffer, kind: HookKind, index: number): void {
  const cmd = hookCommand(hook);
  if ('invalid' in cmd) throw new HookError(kind, index, String(hook?.path), cmd.invalid);

  const fds: number[] = [];
  const track = (pair: [number, number]) => (fds.push(pair[0], pair[1]), pair);
  let pid = -1;
  let reaped = false;
  try {
    const [inR, inW] = track(sys.pipe2(O.CLOEXEC));
    const [outR, outW] = track(sys.pipe2(O.CLOEXEC));
    const [errR, errW] = track(sys.pipe2(O.CLOEXEC));
    // Closed by a successful execve; carries the errno when execve fails.
    const [statusR, statusW] = track(sys.pipe2(O.CLOEXEC));

    pid = sys.fork();
    if (pid === 0) execHook(sys, cmd, [inR, outW, errW], statusW);

    for (const fd of [inR, outW, errW, statusW]) closeTracked(sys, fds, fd);
    for (const fd of [inW, outR, errR, statusR]) setNonBlocking(sys, fd);

    const result = superviseHook(sys, pid, cmd, stateJson, { inW, outR, errR, statusR }, (fd) => closeTracked(sys, fds, fd));
    reaped = true;
    const output = failureOutput(result.stdout, result.stderr);
    if (result.execErrno !== undefined) {
      throw new HookError(kind, index, cmd.path, { type: 'exec', code: errnoName(result.execErrno) });
    }
    if (result.timedOut) throw new HookError(kind, index, cmd.path, { type: 'timeout', seconds: cmd.timeoutSeconds! }, output);
    const sig = result.status & 0x7f;
    if (sig !== 0) throw new HookError(kind, index, cmd.path, { type: 'signal', signal: sig }, output);
    const code = (result.status >> 8) & 0xff;
    if (code !== 0) throw new HookError(kind, index, cmd.path, { type: 'exit', code }, output);
  } finally {
    if (pid > 0 && !reaped) {
      // Something in the supervision itself failed: leave no hook running and no zombie behind.
      try {
        sys.kill(pid, SIGKILL);
      } catch {
        // already gone
      }
      try {
        sys.waitpid(pid, 0);
      } catch {
        // already reaped
      }
    }
    for (const fd of [...fds]) closeTracked(sys, fds, fd);
  }
}

/** The hook's side of the fork: never returns. */
function execHook(sys: Sys, cmd: HookCommand, stdio: [number, number, number], statusW: number): never {
  try {
    // Copies at >= 3 first, so a pipe end that happens to be 0-2 is not clobbered by the dup3s.
    const copies = stdio.map((fd) => sys.fcntl(fd, F.DUPFD_CLOEXEC, 3));
    copies.forEach((fd, target) => sys.dup3(fd, target, 0));
    for (let fd = 0; fd < 3; fd++) sys.fcntl(fd, F.SETFD, 0);
    sys.resetSignals();
    sys.closeRange(3, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    sys.execve(cmd.path, cmd.argv, cmd.env);
  } catch (e) {
    try {
      const b = Buffer.alloc(4);
      b.writeInt32LE(e instanceof SyscallError ? e.errno : 0);
      sys.write(statusW, b);
    } catch {
      // the parent sees exit status 127 without an errno
    }
  }
  return sys.exit(127);
}

interface HookPipes {
  inW: number;
  outR: number;
  errR: number;
  statusR: number;
}

interface Supervised {
  status: number;
  timedOut: boolean;
  execErrno?: number;
  stdout: BoundedOutput;
  stderr: BoundedOutput;
}

/**
 * Feed stdin, collect output and wait for the exit, all in one poll loop with the remaining time
 * as its timeout: a hook that never reads stdin, or fills its stdout, cannot block the init.
 */
function superviseHook(
  sys: Sys,
  pid: number,
  cmd: HookCommand,
  stateJson: Buffer,
  pipes: HookPipes,
  closeFd: (fd: number) => void,
): Supervised {
  const deadline = cmd.timeoutMs === undefined ? Infinity : nowMs() + cmd.timeoutMs;
  const stdout = new BoundedOutput();
  const stderr = new BoundedOutput();
  const readers = [
    { fd: pipes.outR, sink: stdout, open: true },
    { fd: pipes.errR, sink: stderr, open: true },
  ];
  const scratch = Buffer.alloc(4096);
  const statusBytes: Buffer[] = [];
  let statusOpen = true;
  let stdinOpen = true;
  let written = 0;
  let pidfd = -1;
  try {
    pidfd = sys.pidfdOpen(pid);
  } catch {
    // no pidfd: poll waitpid instead
  }

  const closeStdin = () => {
    if (stdinOpen) {
      stdinOpen = false;
      closeFd(pipes.inW); // EOF for a hook that reads its stdin to the end
    }
  };
  if (stateJson.length === 0) closeStdin();

  try {
    let status: number | undefined;
    let timedOut = false;
    while (status === undefined) {
      const polled: { fd: number; events: number }[] = [];
      if (stdinOpen) polled.push({ fd: pipes.inW, events: POLLOUT });
      for (const r of readers) if (r.open) polled.push({ fd: r.fd, events: POLLIN });
      if (statusOpen) polled.push({ fd: pipes.statusR, events: POLLIN });
      if (pidfd >= 0) polled.push({ fd: pidfd, events: POLLIN });

      let wait = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - nowMs()));
      if (pidfd < 0) wait = wait < 0 ? WAITPID_SLICE_MS : Math.min(wait, WAITPID_SLICE_MS);
      const revents = sys.poll(polled, wait);
      let exited = pidfd < 0;

      polled.forEach((p, i) => {
        const ev = revents[i];
        if (!ev) return;
        if (p.fd === pipes.inW) {
          if (ev & (POLLERR | POLLHUP | POLLNVAL)) return closeStdin();
          written += writeSome(sys, pipes.inW, stateJson.subarray(written));
          if (written >= stateJson.length) closeStdin();
        } else if (p.fd === pipes.statusR) {
          if (readInto(sys, pipes.statusR, scratch, (b) => statusBytes.push(Buffer.from(b))) === 'eof') statusOpen = false;
        } else if (p.fd === pidfd) {
          exited = true;
        } else {
          const r = readers.find((x) => x.fd === p.fd)!;
          if (readInto(sys, r.fd, scratch, (b) => r.sink.add(b)) === 'eof') r.open = false;
        }
      });

      if (exited) {
        const w = sys.waitpid(pid, WNOHANG);
        if (w.pid === pid) status = w.status;
      }
      if (status === undefined && nowMs() >= deadline) {
        try {
          sys.kill(pid, SIGKILL);
        } catch {
          // exited just now
        }
        status = sys.waitpid(pid, 0).status;
        timedOut = true;
      }
    }

    // The hook is gone; what it wrote is in the pipes unless a child of its own still holds them.
    for (const r of readers) {
      let budget = DRAIN_LIMIT;
      while (r.open && budget > 0) {
        const got = readInto(sys, r.fd, scratch, (b) => r.sink.add(b));
        if (got === 'eof' || got === 'empty') break;
        budget -= got;
      }
    }
    while (statusOpen) {
      const got = readInto(sys, pipes.statusR, scratch, (b) => statusBytes.push(Buffer.from(b)));
      if (got === 'eof' || got === 'empty') break;
    }
    const statusBuf = Buffer.concat(statusBytes);
    const execErrno = statusBuf.length >= 4 && !timedOut ? statusBuf.readInt32LE(0) : undefined;
    return { status, timedOut, execErrno, stdout, stderr };
  } finally {
    if (pidfd >= 0) sys.close(pidfd);
    closeStdin();
  }
}

/** Reads once from a non-blocking fd: bytes read, 'eof', or 'empty' (EAGAIN). */
function readInto(sys: Sys, fd: number, scratch: Buffer, sink: (b: Buffer) => void): number | 'eof' | 'empty' {
  try {
    const n = sys.read(fd, scratch);
    if (n === 0) return 'eof';
    sink(scratch.subarray(0, n));
    return n;
  } catch (e) {
    if (e instanceof SyscallError && e.code === 'EAGAIN') return 'empty';
    throw e;
  }
}

/** Writes what the pipe takes now; a reader that went away just stops the feeding. */
function writeSome(sys: Sys, fd: number, data: Buffer): number {
  try {
    return sys.write(fd, data);
  } catch (e) {
    if (e instanceof SyscallError && e.code === 'EAGAIN') return 0;
    if (e instanceof SyscallError && e.code === 'EPIPE') return data.length; // nothing more to send
    throw e;
  }
}

function setNonBlocking(sys: Sys, fd: number): void {
  sys.fcntl(fd, F.SETFL, sys.fcntl(fd, F.GETFL) | O.NONBLOCK);
}

function closeTracked(sys: Sys, fds: number[], fd: number): void {
  const i = fds.indexOf(fd);
  if (i < 0) return;
  fds.splice(i, 1);
  try {
    sys.close(fd);
  } catch {
    // nothing to do
  }
}

/** Monotonic milliseconds; process.hrtime reads the clock directly, no event loop involved. */
function nowMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}
