// `tsrun create`: validate, claim the id, build the init plan, fork, and leave the init waiting on
// the exec fifo. On any failure nothing is left behind: process, cgroup, state dir, fds.
import { readlinkSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Sys } from '../sys/sys.js';
import { O } from '../sys/constants.js';
import { formatIssue, loadConfig } from '../../spec/validate.js';
import { debugStep, warn } from '../cli/log.js';
import type { Spec } from '../../spec/types.js';
import { OCI_VERSION } from '../../spec/names.js';
import { StateStore, writeFileAtomic, type ContainerRecord } from './store.js';
import { ContainerError } from './errors.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_SEQPACKET } from '../process/sync.js';
import { buildInitPlan, openNamespaceJoins } from '../process/build-plan.js';
import { launchInit } from '../process/launch.js';
import { joinsItself } from '../process/cgroup-join.js';
import { nodeWaitSignalHandler, prepareWaitingInit, userNamespaceOwnsProgram } from '../process/waiting-init/index.js';
import { writeIdMaps } from '../process/idmap.js';
import { processStartTime } from '../process/proc.js';
import { planRootfs } from '../rootfs/index.js';
import { prepareIdmappedMounts } from '../rootfs/idmapped-trees.js';
import { prepareRootfs, releaseRootfs } from '../../bundles/rootfs.js';
import { cgroupsFor, joinUnlessExited, mayJoinCgroupsItself, openSelfJoin, selfJoinFds, type ContainerCgroups } from './cgroup-link.js';
import { compileSeccompFor, forwardSeccompListener } from './seccomp-link.js';
import { hookState } from './hook-state.js';
import { killAndReap } from './reap.js';
import { refuseOccupiedCgroup } from './cgroup-guard.js';
import { checkUnsupported } from './unsupported.js';
import { checkConsoleOptions, connectConsoleSocket, type OwnConsoleReceiver, type WindowSize } from '../process/console.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /** `run` in the foreground without --console-socket: the pty comes to this receiver. */
  ownConsole?: OwnConsoleReceiver;
  noPivot: boolean;
  preserveFds: number;
  systemdCgroup: boolean;
}

const NS_FILES: Record<string, string> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

export async function createContainer(sys: Sys, store: StateStore, opts: CreateOptions): Promise<ContainerRecord> {
  const bundle = resolve(opts.bundle);
  const spec: Spec = loadConfig(bundle, { onWarning: (issue, file) => warn(`${file}: ${formatIssue(issue)}`) });
  checkUnsupported(spec);
  debugStep('create: config loaded and validated');
  const terminal = Boolean(spec.process?.terminal);
  checkConsoleOptions(terminal, { consoleSocket: opts.consoleSocket, foreground: opts.ownConsole !== undefined });
  const rootfs = isAbsolute(spec.root!.path) ? spec.root!.path : join(bundle, spec.root!.path);
  const ids = { uid: sys.geteuid(), gid: process.getegid!() }; // tsrun's own (effective)
  const rootless = ids.uid !== 0;
  const listenFds = listenFdCount();

  store.claim(opts.id);
  const cleanups: (() => void | Promise<void>)[] = [() => store.remove(opts.id)];
  const fds: number[] = [];
  let record: ContainerRecord | undefined;
  try {
    const overlay = await prepareRootfs(bundle, rootfs, opts.id, store.dir(opts.id));
    if (overlay) cleanups.push(() => releaseRootfs(opts.id, store.dir(opts.id)));

    const cgroups: ContainerCgroups = cgroupsFor(opts.id, spec, { systemd: opts.systemdCgroup, rootless });
    refuseOccupiedCgroup(cgroups.paths()); // before the cleanup that would remove someone else's cgroup
    cleanups.push(() => cgroups.destroy());

    record = {
      ociVersion: spec.ociVersion ?? OCI_VERSION,
      id: opts.id,
      pid: 0,
      pidStartTime: '',
      bundle,
      rootfs,
      created: new Date().toISOString(),
      annotations: spec.annotations,
      owner: process.env.USER ?? (rootless ? String(ids.uid) : 'root'),
      createdDone: false,
      started: false,
      cgroupPaths: cgroups.paths(),
      namespaces: {},
      rootless,
      overlay: Boolean(overlay),
      config: spec,
    };
    store.write(record); // before the cgroups exist, so that `delete --force` finds them if create dies
    cgroups.create();
    debugStep('create: cgroups made');
    const made = cgroups.paths(); // rootless: the hierarchies it may not write to are dropped by create()
    if (JSON.stringify(made) !== JSON.stringify(record.cgroupPaths)) {
      record.cgroupPaths = made;
      store.write(record);
    }

    const fifo = store.fifoPath(opts.id);
    sys.mkfifo(fifo, 0o622);
    sys.chmod(fifo, 0o622); // mkfifo's mode went through the umask
    const root = hostRootIds(spec);
    sys.lchown(fifo, root.uid, root.gid); // the init reopens it as the container's root
    const fifoFd = sys.open(fifo, O.PATH | O.CLOEXEC);
    fds.push(fifoFd);
    const [parentSyncFd, syncFd] = sys.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    fds.push(parentSyncFd, syncFd);
    const joins = openNamespaceJoins(sys, spec);
    fds.push(...joins.map((j) => j.fd));
    let terminalSocket: { socketFd: number; fallbackSize?: WindowSize } | undefined;
    if (terminal && opts.consoleSocket) {
      terminalSocket = { socketFd: connectConsoleSocket(sys, resolve(opts.consoleSocket)) };
      fds.push(terminalSocket.socketFd); // the init has its own copy once forked
    } else if (terminal && opts.ownConsole) terminalSocket = { socketFd: opts.ownConsole.childFd, fallbackSize: opts.ownConsole.callerSize };

    const rootfsPlan = planRootfs(spec, {
      bundle,
      rootfs,
      noPivot: opts.noPivot,
      userns: (spec.linux?.namespaces ?? []).some((n) => n.type === 'user'),
      overlay,
      cgroupPaths: record.cgroupPaths,
      hostCgroups: cgroups.hostLayout,
      consoleSlave: terminal,
      idMappings: { uid: spec.linux?.uidMappings, gid: spec.linux?.gidMappings },
    });
    fds.push(...prepareIdmappedMounts(sys, rootfsPlan));
    const plan = buildInitPlan(
      { spec: withListenFds(spec, listenFds), rootfs: rootfsPlan, syncFd, parentSyncFd, fifoFd, preserveFds: listenFds + opts.preserveFds, rootless, seccomp: compileSeccompFor(spec), console: terminalSocket },
      joins,
    );
    const waiting = prepareWaitingInit(sys, plan, { userNamespaceOwnsProgram: userNamespaceOwnsProgram(spec, ids) });
    if ('fd' in waiting) {
      plan.waitingInitFd = waiting.fd;
      fds.push(waiting.fd);
    }
    plan.nodeWaitSignalHandler = nodeWaitSignalHandler(); // also if the kernel refuses to exec the program
    if (mayJoinCgroupsItself(spec, rootless)) {
      plan.cgroupJoin = openSelfJoin(record.cgroupPaths);
      fds.push(...selfJoinFds(plan.cgroupJoin));
    }
    let joinedItself = false;
    debugStep(`create: the init will wait ${'fd' in waiting ? 'in the waiting-init program' : `as Node: ${waiting.waitAsNode}`}`);
    const rec = record;
    fds.splice(fds.indexOf(parentSyncFd), 1); // launchInit owns both ends of the sync channel now
    fds.splice(fds.indexOf(syncFd), 1);
    const launched = await launchInit(
      sys,
      plan,
      {
        userNamespace: (pid) => writeIdMaps(pid, spec.linux?.uidMappings, spec.linux?.gidMappings, { euid: ids.uid, egid: ids.gid }),
        initCreated: (pid) => {
          if (plan.newCgroupNamespace) {
            cgroups.apply(pid); // the init's cgroup namespace is rooted there
            cgroups.set();
          }
          store.write(rec); // with the pid and start time, noted as soon as the pid came
          return JSON.stringify(hookState(rec, 'creating'));
        },
        runtimeHooks: async () => {
          const state = hookState(rec, 'creating');
          const { runHooks } = await import('../../hooks/run.js'); // loaded only when there are hooks
          await runHooks('prestart', spec.hooks?.prestart, state);
          await runHooks('createRuntime', spec.hooks?.createRuntime, state);
        },
        // The init joins its cgroups itself where it may (CgroupSelfJoin), right before `ready`.
        // Else our cgroup.procs write, whose grace period (5-20 ms) overlaps the init's rootfs setup.
        // Either way that setup charges the container little (runc's init: ~2.5 MB), and limits come
        // at `ready`, as runc writes them.
        initSettingUp: (pid, bornInCgroup) => {
          joinedItself = joinsItself(plan.cgroupJoin, bornInCgroup);
          if (joinedItself) return; // it writes its v1 `tasks` files right before ready
          if (!plan.newCgroupNamespace) joinUnlessExited(() => cgroups.apply(pid));
          debugStep('create: init in its cgroups');
        },
        initReady: () => {
          if (joinedItself) debugStep('create: init in its cgroups (joined them itself)');
          debugStep('create: init ready');
          if (!plan.newCgroupNamespace) cgroups.set();
        },
        seccompListener: (syncFd, pid) => forwardSeccompListener(sys, syncFd, spec, hookState(rec, 'creating'), pid),
      },
      (pid) => {
        debugStep(`create: init is pid ${pid}`);
        rec.pid = pid;
        rec.pidStartTime = processStartTime(pid) ?? ''; // the init is alive now: it waits for 'start'
        cleanups.push(() => killAndReap(sys, pid, rec.pidStartTime));
      },
    );
    for (const fd of fds) sys.close(fd);
    fds.length = 0;

    if (spec.process?.oomScoreAdj !== undefined) writeOomScoreAdj(launched.pid, spec.process.oomScoreAdj);
    record.namespaces = captureNamespaces(launched.pid);
    record.createdDone = true;
    store.write(record);
    if (opts.pidFile) writeFileAtomic(resolve(opts.pidFile), String(launched.pid));
    debugStep('create: done');
    return record;
  } catch (err) {
    for (const fd of fds) {
      try {
        sys.close(fd);
      } catch {
        // already closed
      }
    }
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // keep cleaning; the first error is the one to report
      }
    }
    throw err;
  }
}

function writeOomScoreAdj(pid: number, value: number): void {
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, String(value));
  } catch (e) {
    throw new ContainerError(`process.oomScoreAdj ${value}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * systemd socket activation, as runc: with LISTEN_FDS=N in tsrun's environment, fds 3..3+N-1 pass
 * into the container (before any --preserve-fds) and the process gets LISTEN_FDS=N, LISTEN_PID=1.
 */
function listenFdCount(): number {
  const n = Number(process.env.LISTEN_FDS);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function withListenFds(spec: Spec, n: number): Spec {
  if (!n || !spec.process) return spec;
  const env = (spec.process.env ?? []).filter((e) => !e.startsWith('LISTEN_FDS=') && !e.startsWith('LISTEN_PID='));
  return { ...spec, process: { ...spec.process, env: [...env, `LISTEN_FDS=${n}`, 'LISTEN_PID=1'] } };
}

/** Host uid/gid of the container's root (itself, without a user namespace). */
function hostRootIds(spec: Spec): { uid: number; gid: number } {
  const map = (maps: { containerID: number; hostID: number; size: number }[] | undefined, fallback: number) =>
    maps?.find((m) => m.containerID === 0)?.hostID ?? fallback;
  const userns = (spec.linux?.namespaces ?? []).some((n) => n.type === 'user');
  return userns ? { uid: map(spec.linux?.uidMappings, 0), gid: map(spec.linux?.gidMappings, 0) } : { uid: 0, gid: 0 };
}

function captureNamespaces(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [type, file] of Object.entries(NS_FILES)) {
    try {
      out[type] = readlinkSync(`/proc/${pid}/ns/${file}`);
    } catch {
      // namespace type not supported by this kernel
    }
  }
  return out;
}
