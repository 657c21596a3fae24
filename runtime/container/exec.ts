// `tsrun exec`: run another process in a running container, in all its namespaces and its cgroup,
// with the container's seccomp filter, capabilities from the process (runc's flags on top).
import { readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Sys } from '../sys/sys.js';
import { O, PR } from '../sys/constants.js';
import type { Process } from '../../spec/types.js';
import { NAMESPACE_CLONE_FLAG, type NamespaceType } from '../../spec/names.js';
import type { StateStore, ContainerRecord } from './store.js';
import { deriveStatus } from './status.js';
import { ContainerError, WrongStateError } from './errors.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_SEQPACKET, SyncChannel, type ChildMessage } from '../process/sync.js';
import { planConsole, planProcess } from '../process/build-plan.js';
import { runExecStage1, waitsForJoined, type ExecPlan } from '../process/exec-stages.js';
import type { CgroupSelfJoin, NamespaceJoin } from '../process/init-plan.js';
import { InitError, sendToChild } from '../process/launch.js';
import { decodeWaitStatus, describeExit } from '../process/wait-status.js';
import { waitForeground } from '../process/foreground.js';
import { isSameProcess, processStartTime } from '../process/proc.js';
import { cgroupsOf, joinUnlessExited, mayJoinCgroupsItself, openSelfJoin, selfJoinFds } from './cgroup-link.js';
import { joinsItself } from '../process/cgroup-join.js';
import { debugStep } from '../cli/log.js';
import { compileSeccompFor, forwardSeccompListener } from './seccomp-link.js';
import { hookState } from './hook-state.js';
import { writeFileAtomic } from './store.js';
import { UnsupportedError } from './unsupported.js';
import { killAndReap } from './reap.js';
import { checkConsoleOptions, connectConsoleSocket, OwnConsoleReceiver, proxyTerminal } from '../process/console.js';

export interface ExecOptions {
  id: string;
  processFile?: string;
  args: string[];
  detach: boolean;
  pidFile?: string;
  tty: boolean;
  consoleSocket?: string;
  cwd?: string;
  env: string[];
  user?: string;
  additionalGids: string[];
  caps: string[];
  noNewPrivs: boolean;
  preserveFds: number;
  apparmor?: string;
  processLabel?: string;
  cgroup?: string;
  ignorePaused: boolean;
}

const NS_FILE: Record<NamespaceType, string> = {
  user: 'user', pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup', time: 'time',
};
const JOIN_ORDER: NamespaceType[] = ['user', 'mount', 'pid', 'network', 'ipc', 'uts', 'cgroup', 'time'];

export async function execInContainer(sys: Sys, store: StateStore, opts: ExecOptions): Promise<number> {
  const rec = store.read(opts.id);
  if (!rec) throw new WrongStateError(opts.id, 'exec in', 'still being created');
  const status = deriveStatus(store, rec);
  if (status === 'stopped') throw new ContainerError(`cannot exec in container "${opts.id}": it is stopped`);
  if (status === 'paused' && !opts.ignorePaused) throw new ContainerError(`cannot exec in container "${opts.id}": it is paused (use --ignore-paused)`);
  if (status !== 'running' && status !== 'created' && status !== 'paused') throw new WrongStateError(opts.id, 'exec in', status);

  const process = execProcessSpec(rec, opts);
  if (process.apparmorProfile) throw new UnsupportedError('process.apparmorProfile', 'AppArmor is not enabled in this kernel');
  if (process.selinuxLabel) throw new UnsupportedError('process.selinuxLabel', 'SELinux is not enabled in this kernel');

  const foreground = !opts.detach;
  const terminal = Boolean(process.terminal);
  checkConsoleOptions(terminal, { consoleSocket: opts.consoleSocket, foreground });
  if (foreground) sys.prctl(PR.SET_CHILD_SUBREAPER, 1); // stage 1 orphans the process: adopt it
  // A terminal's master goes to --console-socket, or to us when we proxy it in the foreground.
  const receiver = terminal && !opts.consoleSocket ? new OwnConsoleReceiver(sys) : undefined;
  let consoleSocketFd = receiver?.childFd;
  let joins: NamespaceJoin[] = [];
  let cgroupJoin: CgroupSelfJoin | undefined;
  let parentSyncFd: number;
  let syncFd: number;
  try {
    if (terminal && opts.consoleSocket) consoleSocketFd = connectConsoleSocket(sys, resolve(opts.consoleSocket));
    joins = openJoins(sys, rec);
    if (opts.cgroup === undefined && mayJoinCgroupsItself(rec.config, rec.rootless)) cgroupJoin = openSelfJoin(rec.cgroupPaths);
    [parentSyncFd, syncFd] = sys.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  } catch (e) {
    receiver?.close();
    if (opts.consoleSocket && consoleSocketFd !== undefined) sys.close(consoleSocketFd);
    for (const fd of [...joins.map((j) => j.fd), ...(cgroupJoin ? selfJoinFds(cgroupJoin) : [])]) sys.close(fd);
    throw e;
  }
  const seccomp = compileSeccompFor(rec.config);
  const plan: ExecPlan = {
    syncFd,
    parentSyncFd,
    joins,
    process: planProcess(process, { rootless: rec.rootless, preserveFds: opts.preserveFds, spec: rec.config, context: 'exec' }),
    seccomp: seccomp && { ...seccomp, beforeCredentials: !process.noNewPrivileges || seccomp.listener },
    console: planConsole(process, consoleSocketFd === undefined ? undefined : { socketFd: consoleSocketFd, fallbackSize: receiver?.callerSize }, false),
    cgroupJoin,
  };

  const stage1 = sys.fork();
  if (stage1 === 0) runExecStage1(sys, plan);
  sys.close(syncFd);
  for (const fd of cgroupJoin ? selfJoinFds(cgroupJoin) : []) sys.close(fd);
  for (const j of joins) sys.close(j.fd);
  if (receiver) receiver.closeChildEnd();
  else if (consoleSocketFd !== undefined) sys.close(consoleSocketFd);

  const sync = new SyncChannel(sys, parentSyncFd);
  let pid = 0;
  let pidStartTime = '';
  try {
    for (;;) {
      const msg = sync.receive<ChildMessage>();
      if (!msg) break; // the process exec'd (the channel is close-on-exec) or died
      if (msg.t === 'pid') {
        pid = msg.pid;
        pidStartTime = processStartTime(pid) ?? ''; // so a cleanup kill cannot reach a reused pid
        const exit = decodeWaitStatus(sys.waitpid(stage1).status);
        if (exit.code !== 0) throw new InitError('exec', `exec stage 1 failed (${describeExit(exit)})`);
        const selfJoined = joinsItself(cgroupJoin, msg.bornInCgroup === true);
        if (selfJoined) debugStep('exec: the process joins its cgroups itself');
        else {
          if (!joinUnlessExited(() => cgroupsOf(rec).apply(pid, opts.cgroup))) continue;
          debugStep('exec: the process is in its cgroups');
        }
        if (waitsForJoined(selfJoined, plan)) sendToChild(sync, { t: 'joined' }, 'the process exited before it started');
      } else if (msg.t === 'seccomp') {
        forwardSeccompListener(sys, parentSyncFd, rec.config, hookState(rec, status), pid);
        sendToChild(sync, { t: 'go' }, 'the process exited before it started');
      } else if (msg.t === 'error') {
        throw new InitError(msg.stage, msg.message, msg.code, msg.path);
      }
    }
    if (!pid) {
      const exit = decodeWaitStatus(sys.waitpid(stage1).status);
      throw new InitError('exec', `exec failed (${describeExit(exit)})`);
    }
  } catch (e) {
    receiver?.close();
    if (pid) killAndReap(sys, pid, pidStartTime);
    else {
      try {
        sys.waitpid(stage1);
      } catch {
        // already reaped
      }
    }
    throw e;
  } finally {
    sys.close(parentSyncFd);
  }

  let master: number | undefined;
  try {
    if (receiver) master = receiver.receive();
  } catch (e) {
    killAndReap(sys, pid, pidStartTime);
    throw e;
  } finally {
    receiver?.close();
  }
  if (opts.pidFile) writeFileAtomic(resolve(opts.pidFile), String(pid));
  if (!foreground) return 0;
  if (master !== undefined) return proxyTerminal(sys, master, pid, { appliedSize: process.consoleSize ? undefined : receiver?.callerSize });
  return waitForeground(sys, pid);
}

/** Open /proc/<init>/ns/* for every namespace of the container that is not already ours. */
function openJoins(sys: Sys, rec: ContainerRecord): NamespaceJoin[] {
  const joins: NamespaceJoin[] = [];
  const types = new Set((rec.config.linux?.namespaces ?? []).map((n) => n.type as NamespaceType));
  const pidfd = sys.pidfdOpen(rec.pid);
  try {
    if (!isSameProcess(rec.pid, rec.pidStartTime)) throw new ContainerError(`cannot exec in container "${rec.id}": it is stopped`);
    for (const type of JOIN_ORDER) {
      if (!types.has(type)) continue;
      const target = `/proc/${rec.pid}/ns/${NS_FILE[type]}`;
      if (readlinkSync(target) === readlinkSync(`/proc/self/ns/${NS_FILE[type]}`)) continue;
      joins.push({ type, fd: sys.open(target, O.RDONLY | O.CLOEXEC), flag: NAMESPACE_CLONE_FLAG[type] });
    }
  } catch (e) {
    for (const j of joins) sys.close(j.fd);
    throw e;
  } finally {
    sys.close(pidfd);
  }
  return joins;
}

/** The process to run: --process FILE, or the container's process with runc's exec flags on top. */
export function execProcessSpec(rec: ContainerRecord, opts: ExecOptions): Process {
  let p: Process;
  if (opts.processFile) {
    const file = resolve(opts.processFile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ContainerError(`--process ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      p = JSON.parse(text) as Process;
    } catch (e) {
      throw new ContainerError(`--process ${file}: not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(p.args) || p.args.length === 0) throw new ContainerError(`--process ${file}: /args: must be a non-empty array`);
    if (typeof p.cwd !== 'string' || !p.cwd.startsWith('/')) throw new ContainerError(`--process ${file}: /cwd: must be an absolute path`);
  } else {
    if (opts.args.length === 0) throw new ContainerError('exec: a command is required (tsrun exec ID CMD [ARGS…] or --process FILE)');
    const base = rec.config.process!;
    p = structuredClone({ ...base, args: opts.args, terminal: opts.tty });
    delete (p as { consoleSize?: unknown }).consoleSize;
  }
  if (opts.cwd) p.cwd = opts.cwd;
  if (opts.env.length) p.env = [...(p.env ?? []), ...opts.env];
  if (opts.tty) p.terminal = true;
  if (opts.user) {
    const [uid, gid] = opts.user.split(':');
    if (!/^\d+$/.test(uid) || (gid !== undefined && !/^\d+$/.test(gid))) throw new ContainerError(`--user "${opts.user}": use UID[:GID] (numbers)`);
    p.user = { ...(p.user ?? { uid: 0, gid: 0 }), uid: Number(uid), gid: gid === undefined ? (p.user?.gid ?? 0) : Number(gid) };
  }
  if (opts.additionalGids.length) {
    for (const g of opts.additionalGids) if (!/^\d+$/.test(g)) throw new ContainerError(`--additional-gids "${g}": not a number`);
    p.user = { ...(p.user ?? { uid: 0, gid: 0 }), additionalGids: opts.additionalGids.map(Number) };
  }
  if (opts.caps.length) {
    const caps = { ...(p.capabilities ?? {}) };
    for (const raw of opts.caps) {
      const cap = raw.toUpperCase().startsWith('CAP_') ? raw.toUpperCase() : `CAP_${raw.toUpperCase()}`;
      caps.bounding = [...(caps.bounding ?? []), cap];
      caps.effective = [...(caps.effective ?? []), cap];
      caps.permitted = [...(caps.permitted ?? []), cap];
      if (caps.inheritable?.length) caps.ambient = [...(caps.ambient ?? []), cap];
    }
    p.capabilities = caps;
  }
  if (opts.noNewPrivs) p.noNewPrivileges = true;
  if (opts.apparmor) p.apparmorProfile = opts.apparmor;
  if (opts.processLabel) p.selinuxLabel = opts.processLabel;
  return p;
}
