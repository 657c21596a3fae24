// Terminals (process.terminal). The pty is made inside the container by the init (after
// pivot_root) or the exec'd process (after joining the mount namespace): its master goes to the
// console socket as exactly one SCM_RIGHTS fd with the pty name as payload (what containerd's shim
// and conmon receive), its slave becomes stdio and the controlling terminal.
// Without --console-socket, a foreground `run`/`exec` is its own receiver (a socketpair) and
// proxies the caller's terminal to the master.
import type { Sys } from '../sys/sys.js';
import { SyscallError, isErrno } from '../sys/errors.js';
import { F, O, POLLHUP, POLLIN, POLLOUT, SIGNALS } from '../sys/constants.js';
import { AF_UNIX, SOCK_CLOEXEC } from './sync.js';
import { decodeWaitStatus, exitCodeOf } from './wait-status.js';
import { mountConsole } from '../rootfs/index.js';
import { ContainerError } from '../container/errors.js';

// ioctl requests; x86_64 and arm64 agree on all of them (asm-generic ioctls).
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TIOCSCTTY = 0x540e;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const TIOCGPTN = 0x80045430;
export const TIOCSPTLCK = 0x40045431;

const SOCK_STREAM = 1;
const POLLERR = 0x8;

export interface WindowSize {
  rows: number;
  cols: number;
}

/** What the child needs to make the terminal; planned in the parent. */
export interface ConsolePlan {
  /** Connected console socket (or our own socketpair end), inherited across the fork. */
  socketFd: number;
  /** process.consoleSize, applied before the master is sent. */
  size?: WindowSize;
  /** Bind the slave onto /dev/console (the init; not exec). */
  mountConsole: boolean;
  /** The process's uid: the slave is chowned to it, as runc does for stdio. */
  uid: number;
}

export class ConsoleError extends ContainerError {
  constructor(message: string) {
    super(message);
    this.name = 'ConsoleError';
  }
}

function winsizeBuffer(size: WindowSize): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(size.rows, 0);
  b.writeUInt16LE(size.cols, 2);
  return b;
}

export function consoleSizeOf(box: { height: number; width: number } | undefined): WindowSize | undefined {
  if (!box || !box.height || !box.width) return undefined;
  return { rows: box.height, cols: box.width };
}

// ---------------------------------------------------------------- child side (forked, Sys only)

/**
 * In the container, in a session leader without a terminal: open the container's /dev/ptmx, make
 * the slave stdio and the controlling terminal, send the master, close the socket.
 */
export function setupConsole(sys: Sys, plan: ConsolePlan): void {
  try {
    makeConsole(sys, plan);
  } catch (e) {
    // One line for the user that names the feature; call/code/path travel with it to the parent.
    const s = e as Partial<SyscallError> & Error;
    throw Object.assign(new Error(`process.terminal: ${s.message}`), { call: s.call, code: s.code, path: s.path });
  }
}

function makeConsole(sys: Sys, plan: ConsolePlan): void {
  const master = sys.open('/dev/ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC);
  try {
    sys.ioctl(master, TIOCSPTLCK, Buffer.alloc(4)); // unlock: *arg = 0
    const ptn = Buffer.alloc(4);
    sys.ioctl(master, TIOCGPTN, ptn);
    const slavePath = `/dev/pts/${ptn.readUInt32LE(0)}`;
    if (plan.size) sys.ioctl(master, TIOCSWINSZ, winsizeBuffer(plan.size));
    const slave = sys.open(slavePath, O.RDWR | O.NOCTTY | O.CLOEXEC);
    try {
      if (plan.mountConsole) mountConsole(sys, slavePath);
      chownSlave(sys, slave, plan.uid);
      try {
        sys.sendFd(plan.socketFd, master, Buffer.from(slavePath));
      } catch (e) {
        if (e instanceof SyscallError) throw new SyscallError('sending the pty to the console socket', e.errno);
        throw e;
      }
      sys.close(plan.socketFd);
      for (const fd of [0, 1, 2]) if (fd !== slave) sys.dup3(slave, fd, 0); // dup3 refuses old == new
    } finally {
      if (slave > 2) sys.close(slave);
    }
    sys.ioctl(0, TIOCSCTTY, 0);
  } finally {
    sys.close(master);
  }
}

/** Only the owner changes (the devpts gid= option chose the group); failures are not fatal. */
function chownSlave(sys: Sys, slave: number, uid: number): void {
  const st = sys.fstat(slave);
  if (st.uid === uid) return;
  try {
    sys.fchown(slave, uid, st.gid);
  } catch (e) {
    if (!isErrno(e, 'EINVAL') && !isErrno(e, 'EPERM') && !isErrno(e, 'EROFS')) throw e;
  }
}

// ---------------------------------------------------------------- parent side

/**
 * runc's rules: a terminal needs a console socket unless tsrun stays in the foreground to be its
 * own receiver; a console socket without a terminal is a mistake.
 */
export function checkConsoleOptions(terminal: boolean, opts: { consoleSocket?: string; foreground: boolean }): void {
  if (terminal && !opts.consoleSocket && !opts.foreground) {
    throw new ConsoleError('process.terminal: cannot allocate a terminal when tsrun does not stay in the foreground (create, --detach) without --console-socket');
  }
  if (!terminal && opts.consoleSocket) {
    throw new ConsoleError(`--console-socket ${opts.consoleSocket}: cannot use a console socket when process.terminal is false`);
  }
}

/** Connect to --console-socket before the fork; the forked stages inherit the fd. */
export function connectConsoleSocket(sys: Sys, path: string): number {
  try {
    return sys.connectUnix(path);
  } catch (e) {
    const code = (e as SyscallError).code ?? (e as Error).message;
    throw new ConsoleError(`--console-socket ${path}: cannot connect: ${code}`);
  }
}

/** Both ends of a socketpair: the child sends the master on `childFd`, we receive on `parentFd`. */
export class OwnConsoleReceiver {
  private open = true;
  private childOpen = true;
  readonly parentFd: number;
  readonly childFd: number;
  /** The caller's window size now: the child applies it (unless process.consoleSize is set). */
  readonly callerSize: WindowSize | undefined;

  constructor(private readonly sys: Sys) {
    this.callerSize = callerWindowSize(sys);
    [this.parentFd, this.childFd] = sys.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  }

  /** Our copy of the child's end: close it once the child has it. */
  closeChildEnd(): void {
    if (this.childOpen) {
      this.childOpen = false;
      this.sys.close(this.childFd);
    }
  }

  /** The master fd the child sent (it did so before reporting ready). */
  receive(timeoutMs = 5000): number {
    this.closeChildEnd();
    const [revents] = this.sys.poll([{ fd: this.parentFd, events: POLLIN }], timeoutMs);
    if (!(revents & POLLIN)) throw new ConsoleError('the container process did not send its terminal');
    try {
      return this.sys.recvFd(this.parentFd, 4096).fd;
    } catch (e) {
      throw new ConsoleError(`receiving the terminal: ${(e as SyscallError).code ?? (e as Error).message}`);
    }
  }

  close(): void {
    this.closeChildEnd();
    if (this.open) {
      this.open = false;
      this.sys.close(this.parentFd);
    }
  }
}

// termios (kernel struct termios, TCGETS): c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[19].
const IFLAG_RAW_OFF = 0o1 | 0o2 | 0o10 | 0o40 | 0o100 | 0o200 | 0o400 | 0o2000; // IGNBRK BRKINT PARMRK ISTRIP INLCR IGNCR ICRNL IXON
const OPOST = 0o1;
const LFLAG_RAW_OFF = 0o1 | 0o2 | 0o10 | 0o100 | 0o100000; // ISIG ICANON ECHO ECHONL IEXTEN
const CSIZE = 0o60;
const CS8 = 0o60;
const PARENB = 0o400;
const VTIME = 5;
const VMIN = 6;

function getTermios(sys: Sys, fd: number): Buffer | undefined {
  const b = Buffer.alloc(64);
  try {
    sys.ioctl(fd, TCGETS, b);
    return b;
  } catch {
    return undefined; // not a terminal
  }
}

/** cfmakeraw on a copy of `saved`. */
function rawTermios(saved: Buffer): Buffer {
  const t = Buffer.from(saved);
  t.writeUInt32LE((t.readUInt32LE(0) & ~IFLAG_RAW_OFF) >>> 0, 0);
  t.writeUInt32LE((t.readUInt32LE(4) & ~OPOST) >>> 0, 4);
  t.writeUInt32LE((((t.readUInt32LE(8) & ~(CSIZE | PARENB)) >>> 0) | CS8) >>> 0, 8);
  t.writeUInt32LE((t.readUInt32LE(12) & ~LFLAG_RAW_OFF) >>> 0, 12);
  t[17 + VMIN] = 1;
  t[17 + VTIME] = 0;
  return t;
}

function callerWindowSize(sys: Sys): WindowSize | undefined {
  for (const fd of [0, 1]) {
    const b = Buffer.alloc(8);
    try {
      sys.ioctl(fd, TIOCGWINSZ, b);
    } catch {
      continue;
    }
    const size = { rows: b.readUInt16LE(0), cols: b.readUInt16LE(2) };
    return size.rows && size.cols ? size : undefined;
  }
  return undefined;
}

export function resizeConsole(sys: Sys, master: number, size: WindowSize): void {
  sys.ioctl(master, TIOCSWINSZ, winsizeBuffer(size));
}

const FORWARDED = ['HUP', 'INT', 'QUIT', 'TERM', 'USR1', 'USR2', 'CONT', 'ALRM'] as const;
const CHUNK = 64 * 1024;
const MAX_PENDING = 256 * 1024;

export interface ProxyOptions {
  /** The caller's size the child applied (none when process.consoleSize chose it): resized if it changed since. */
  appliedSize?: WindowSize;
}

/**
 * The foreground side of a terminal without a console socket: caller's stdin (raw if a tty) to the
 * master, master to stdout, SIGWINCH resizes, other signals are forwarded. Returns the process's
 * exit code (or 128 + signal) once it exited and its output is drained. Takes ownership of `master`.
 */
export async function proxyTerminal(sys: Sys, master: number, pid: number, opts: ProxyOptions): Promise<number> {
  const pidfd = sys.pidfdOpen(pid);
  const saved = getTermios(sys, 0);
  const resize = () => {
    const size = callerWindowSize(sys);
    if (size) {
      try {
        resizeConsole(sys, master, size);
      } catch {
        // the pty is gone
      }
    }
  };
  const handlers = FORWARDED.map((name) => [`SIG${name}`, () => signalQuietly(sys, pidfd, SIGNALS[name])] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  process.on('SIGWINCH', resize);
  try {
    sys.fcntl(master, F.SETFL, sys.fcntl(master, F.GETFL) | O.NONBLOCK);
    const now = opts.appliedSize && callerWindowSize(sys);
    if (now && (now.rows !== opts.appliedSize!.rows || now.cols !== opts.appliedSize!.cols)) resize();
    if (saved) sys.ioctl(0, TCSETS, rawTermios(saved));

    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let stdinOpen = true;
    let masterOpen = true;
    let stdoutOpen = true;
    let exitCode: number | undefined;
    let drainDeadline = 0;
    const buf = Buffer.alloc(CHUNK);

    /** Master to stdout until it would block; false once the pty is closed (EIO) or at EOF. */
    const drainMaster = (): boolean => {
      let got = false;
      for (;;) {
        let n: number;
        try {
          n = sys.read(master, buf, CHUNK);
        } catch (e) {
          if (isErrno(e, 'EAGAIN')) return got;
          masterOpen = false; // EIO: every slave fd is closed
          return got;
        }
        if (n === 0) {
          masterOpen = false;
          return got;
        }
        got = true;
        if (stdoutOpen) stdoutOpen = writeAll(sys, 1, buf.subarray(0, n));
      }
    };

    for (;;) {
      // A reaped pidfd polls POLLHUP forever (newer kernels): leave it out once we have the code.
      const fds = [{ fd: exitCode === undefined ? pidfd : -1, events: POLLIN }];
      const masterEvents = masterOpen ? POLLIN | (pendingBytes ? POLLOUT : 0) : 0;
      fds.push({ fd: masterOpen ? master : -1, events: masterEvents });
      const readStdin = stdinOpen && masterOpen && exitCode === undefined && pendingBytes < MAX_PENDING;
      fds.push({ fd: readStdin ? 0 : -1, events: POLLIN });
      const [pidEv, masterEv, stdinEv] = sys.poll(fds, exitCode === undefined ? 50 : 100);

      if (masterEv & (POLLIN | POLLHUP | POLLERR)) {
        if (drainMaster()) drainDeadline = Math.max(drainDeadline, Date.now() + 200);
      }
      if (masterOpen && pendingBytes && masterEv & POLLOUT) {
        ({ pending, pendingBytes } = flushPending(sys, master, pending, pendingBytes));
      }
      if (stdinEv & (POLLIN | POLLHUP | POLLERR)) {
        let n = 0;
        try {
          n = sys.read(0, buf, CHUNK);
        } catch {
          n = 0;
        }
        if (n <= 0) stdinOpen = false;
        else {
          pending.push(Buffer.from(buf.subarray(0, n)));
          pendingBytes += n;
          ({ pending, pendingBytes } = flushPending(sys, master, pending, pendingBytes));
        }
      }
      if (pidEv & POLLIN && exitCode === undefined) {
        exitCode = exitCodeOf(decodeWaitStatus(sys.waitpid(pid).status));
        drainMaster();
        // Output the process wrote just before exiting can still be in the pty's buffers; other
        // holders of the slave (exec'd daemons) could keep it open: wait only while data flows.
        drainDeadline = Date.now() + 200;
      }
      if (exitCode !== undefined && (!masterOpen || Date.now() > drainDeadline)) return exitCode;
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    if (saved) {
      try {
        sys.ioctl(0, TCSETS, saved);
      } catch {
        // the terminal went away
      }
    }
    process.off('SIGWINCH', resize);
    for (const [sig, h] of handlers) process.off(sig, h);
    sys.close(pidfd);
    sys.close(master);
  }
}

function flushPending(sys: Sys, master: number, pending: Buffer[], pendingBytes: number): { pending: Buffer[]; pendingBytes: number } {
  while (pending.length) {
    const head = pending[0];
    let n: number;
    try {
      n = sys.write(master, head);
    } catch (e) {
      if (isErrno(e, 'EAGAIN')) break;
      return { pending: [], pendingBytes: 0 }; // the pty is gone: drop the input
    }
    pendingBytes -= n;
    if (n < head.length) {
      pending[0] = head.subarray(n);
      break;
    }
    pending.shift();
  }
  return { pending, pendingBytes };
}

/** Blocking write of everything; false when the fd is closed (EPIPE). */
function writeAll(sys: Sys, fd: number, data: Buffer): boolean {
  let off = 0;
  while (off < data.length) {
    try {
      off += sys.write(fd, data.subarray(off));
    } catch (e) {
      if (isErrno(e, 'EAGAIN')) {
        sys.poll([{ fd, events: POLLOUT }], 1000);
        continue;
      }
      return false;
    }
  }
  return true;
}

function signalQuietly(sys: Sys, pidfd: number, sig: number): void {
  try {
    sys.pidfdSendSignal(pidfd, sig);
  } catch {
    // already gone
  }
}
