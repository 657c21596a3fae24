// Process attributes applied in the init (and exec) before `ready`: scheduler, I/O priority,
// personality, oom_score_adj (exec), CPU affinity (exec). Planned in the parent (numbers and
// pre-built buffers), applied with Sys calls in the forked child.
import type { Sys } from '../sys/sys.js';
import type { Process, Spec } from '../../spec/types.js';
import type { IOPriorityClass, PersonalityDomain, SchedulerFlag, SchedulerPolicy } from '../../spec/names.js';
import { O } from '../sys/constants.js';

export interface ProcessAttributes {
  /** struct sched_attr (SCHED_ATTR_SIZE_VER0, 48 bytes) for sched_setattr(0, attr, 0). */
  schedAttr?: Buffer;
  /** ioprio_set(IOPRIO_WHO_PROCESS, 0, value): class << 13 | priority. */
  ioprio?: number;
  personality?: { value: number; domain: string };
  /** Written to /proc/self/oom_score_adj by an exec process (the init's is written by `create`). */
  oomScoreAdj?: number;
  /** exec only: affinity of the exec stage before it joins the cgroup. */
  initialCpus?: number[];
  /** exec only: affinity right before execve; `all` resets an inherited one (as runc). */
  finalCpus?: number[] | 'all';
}

export const SCHED_POLICY: Record<SchedulerPolicy, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};
export const SCHED_FLAG: Record<SchedulerFlag, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08, SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
export const IOPRIO_CLASS: Record<IOPriorityClass, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
export const PERSONALITY: Record<PersonalityDomain, number> = { LINUX: 0x0000, LINUX32: 0x0008 };
const IOPRIO_WHO_PROCESS = 1;
/** All CPUs sched_setaffinity can name with the 1024-bit mask Sys uses. */
const ALL_CPUS = Array.from({ length: 1024 }, (_, i) => i);

/** "0-3,7" -> [0,1,2,3,7] (validated by spec/semantic-linux.ts). */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    if (part === '') continue;
    const [lo, hi] = part.split('-').map(Number);
    for (let c = lo; c <= (hi ?? lo); c++) out.push(c);
  }
  return out;
}

export function schedAttr(s: NonNullable<Process['scheduler']>): Buffer {
  const b = Buffer.alloc(48);
  b.writeUInt32LE(48, 0);
  b.writeUInt32LE(SCHED_POLICY[s.policy], 4);
  b.writeBigUInt64LE(BigInt((s.flags ?? []).reduce((m, f) => m | SCHED_FLAG[f], 0)), 8);
  b.writeInt32LE(s.nice ?? 0, 16);
  b.writeUInt32LE(s.priority ?? 0, 20);
  b.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  b.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  b.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return b;
}

/**
 * `context` is 'exec' for `tsrun exec`: only then do execCPUAffinity (the runtime-spec says it does
 * not apply to the init) and oomScoreAdj (the init's is written from the host by create) apply here.
 */
export function planAttributes(process: Process, spec?: Spec, context: 'init' | 'exec' = 'init'): ProcessAttributes {
  const attrs: ProcessAttributes = {};
  if (process.scheduler) attrs.schedAttr = schedAttr(process.scheduler);
  if (process.ioPriority) attrs.ioprio = (IOPRIO_CLASS[process.ioPriority.class] << 13) | process.ioPriority.priority;
  const persona = spec?.linux?.personality;
  if (persona) attrs.personality = { value: PERSONALITY[persona.domain], domain: persona.domain };
  if (context === 'exec') {
    if (process.oomScoreAdj !== undefined) attrs.oomScoreAdj = process.oomScoreAdj;
    const aff = process.execCPUAffinity;
    if (aff?.initial) attrs.initialCpus = parseCpuList(aff.initial);
    if (aff?.final) attrs.finalCpus = parseCpuList(aff.final);
    else if (!aff?.initial) attrs.finalCpus = 'all';
  }
  return attrs;
}

class AttributeError extends Error {
  constructor(field: string, err: unknown) {
    const e = err as { code?: string; message?: string };
    super(`${field}: ${e?.code ?? e?.message ?? String(err)}`);
  }
}

function attempt(field: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    throw new AttributeError(field, e);
  }
}

/** exec stage 1, before it forks the process that joins the cgroup. */
export function applyInitialAffinity(sys: Sys, attrs: ProcessAttributes): void {
  if (attrs.initialCpus) attempt('process.execCPUAffinity.initial', () => sys.schedSetaffinity(0, attrs.initialCpus!));
}

/** Runs in the forked child (init or exec process), before `ready`. */
export function applyAttributes(sys: Sys, attrs: ProcessAttributes): void {
  if (attrs.schedAttr) attempt('process.scheduler', () => sys.schedSetattr(0, attrs.schedAttr!, 0));
  if (attrs.ioprio !== undefined) attempt('process.ioPriority', () => sys.ioprioSet(IOPRIO_WHO_PROCESS, 0, attrs.ioprio!));
  if (attrs.personality) attempt(`linux.personality ${attrs.personality.domain}`, () => sys.personality(attrs.personality!.value));
  if (attrs.oomScoreAdj !== undefined) {
    attempt(`process.oomScoreAdj ${attrs.oomScoreAdj}`, () => {
      const fd = sys.open('/proc/self/oom_score_adj', O.WRONLY | O.CLOEXEC);
      try {
        sys.write(fd, String(attrs.oomScoreAdj));
      } finally {
        sys.close(fd);
      }
    });
  }
  if (attrs.finalCpus === 'all') {
    try {
      sys.schedSetaffinity(0, ALL_CPUS);
    } catch {
      // as runc: best effort, the process keeps the affinity it inherited
    }
  } else if (attrs.finalCpus) {
    const cpus = attrs.finalCpus;
    attempt('process.execCPUAffinity.final', () => sys.schedSetaffinity(0, cpus));
  }
}
