// Reads an OCI linux.seccomp profile into checked, encoded pieces: actions as SECCOMP_RET values,
// argument conditions as 64-bit values, flags as SECCOMP_FILTER_FLAG bits. Every problem is a
// SeccompError naming the JSON path (linux.seccomp.syscalls[3].args[0].op).
import type { Seccomp as LinuxSeccompProfile } from '../../spec/types.js';
import { SECCOMP_ARCHES, SECCOMP_OPERATORS } from '../../spec/names.js';
import { EPERM, SECCOMP_FILTER_FLAG, SECCOMP_RET, SECCOMP_RET_DATA } from './constants.js';
import { SeccompError } from './errors.js';

export type { LinuxSeccompProfile };

export type Operator = (typeof SECCOMP_OPERATORS)[number];

export interface Condition {
  index: number;
  op: Operator;
  /** For MASKED_EQ: the mask. */
  value: bigint;
  /** For MASKED_EQ: the value the masked argument must equal. */
  valueTwo: bigint;
}

export interface Rule {
  names: string[];
  /** Encoded SECCOMP_RET_* | data. */
  action: number;
  isNotify: boolean;
  conditions: Condition[];
  /** Where the rule sits in the profile, for messages. */
  path: string;
}

export interface ReadProfile {
  defaultAction: number;
  /** Default is ALLOW, LOG or TRACE: runc then adds no -ENOSYS stub. */
  defaultIsPermissive: boolean;
  /** Architecture names as listed (validated), in order, without duplicates. */
  architectures: string[];
  rules: Rule[];
  flags: number;
  needsListener: boolean;
}

const ROOT = 'linux.seccomp';
const U64_MAX = (1n << 64n) - 1n;

const FLAG_BITS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SECCOMP_FILTER_FLAG.TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG.LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG.SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV,
};

const ACTION_BASE: Record<string, number> = {
  SCMP_ACT_KILL: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_THREAD: SECCOMP_RET.KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: SECCOMP_RET.KILL_PROCESS,
  SCMP_ACT_TRAP: SECCOMP_RET.TRAP,
  SCMP_ACT_ERRNO: SECCOMP_RET.ERRNO,
  SCMP_ACT_TRACE: SECCOMP_RET.TRACE,
  SCMP_ACT_LOG: SECCOMP_RET.LOG,
  SCMP_ACT_ALLOW: SECCOMP_RET.ALLOW,
  SCMP_ACT_NOTIFY: SECCOMP_RET.USER_NOTIF,
};
const TAKES_DATA = new Set(['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE']);
const PERMISSIVE = new Set(['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An action name plus optional errnoRet -> SECCOMP_RET value. ERRNO/TRACE default to EPERM, as in runc. */
function encodeAction(action: unknown, errnoRet: unknown, actionPath: string, errnoPath: string): number {
  if (typeof action !== 'string' || !(action in ACTION_BASE)) {
    throw new SeccompError(actionPath, `unknown action ${JSON.stringify(action)} (expected one of ${Object.keys(ACTION_BASE).join(', ')})`);
  }
  const base = ACTION_BASE[action];
  if (errnoRet === undefined || errnoRet === null) return TAKES_DATA.has(action) ? (base | EPERM) >>> 0 : base;
  if (!TAKES_DATA.has(action)) throw new SeccompError(errnoPath, `is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (action is ${action})`);
  if (typeof errnoRet !== 'number' || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > SECCOMP_RET_DATA) {
    throw new SeccompError(errnoPath, `must be an integer from 0 to ${SECCOMP_RET_DATA}, got ${JSON.stringify(errnoRet)}`);
  }
  return (base | errnoRet) >>> 0;
}

function toU64(v: unknown, path: string): bigint {
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) {
    const b = BigInt(v);
    if (b <= U64_MAX) return b;
    throw new SeccompError(path, `${v} does not fit in 64 bits (JSON numbers above 2^53 are rounded when parsed)`);
  }
  throw new SeccompError(path, `must be an unsigned 64-bit integer, got ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`);
}

function readCondition(arg: unknown, path: string): Condition {
  if (!isObject(arg)) throw new SeccompError(path, 'must be an object');
  const { index, op } = arg;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
    throw new SeccompError(`${path}.index`, `must be an argument number from 0 to 5, got ${JSON.stringify(index)}`);
  }
  if (typeof op !== 'string' || !(SECCOMP_OPERATORS as readonly string[]).includes(op)) {
    throw new SeccompError(`${path}.op`, `unknown operator ${JSON.stringify(op)} (expected one of ${SECCOMP_OPERATORS.join(', ')})`);
  }
  return {
    index,
    op: op as Operator,
    value: toU64(arg.value, `${path}.value`),
    valueTwo: arg.valueTwo === undefined ? 0n : toU64(arg.valueTwo, `${path}.valueTwo`),
  };
}

export function readProfile(profile: LinuxSeccompProfile): ReadProfile {
  const p = profile as unknown;
  if (!isObject(p)) throw new SeccompError(ROOT, 'must be an object');
  if (p.defaultAction === 'SCMP_ACT_NOTIFY') {
    throw new SeccompError(`${ROOT}.defaultAction`, 'SCMP_ACT_NOTIFY cannot be the default action');
  }
  const defaultAction = encodeAction(p.defaultAction, p.defaultErrnoRet, `${ROOT}.defaultAction`, `${ROOT}.defaultErrnoRet`);

  const architectures: string[] = [];
  if (p.architectures !== undefined && p.architectures !== null) {
    if (!Array.isArray(p.architectures)) throw new SeccompError(`${ROOT}.architectures`, 'must be an array');
    p.architectures.forEach((a, i) => {
      if (typeof a !== 'string' || !(SECCOMP_ARCHES as readonly string[]).includes(a)) {
        throw new SeccompError(`${ROOT}.architectures[${i}]`, `unknown architecture ${JSON.stringify(a)}`);
      }
      if (!architectures.includes(a)) architectures.push(a);
    });
  }

  let flags = 0;
  if (p.flags !== undefined && p.flags !== null) {
    if (!Array.isArray(p.flags)) throw new SeccompError(`${ROOT}.flags`, 'must be an array');
    p.flags.forEach((f, i) => {
      const bit = typeof f === 'string' ? FLAG_BITS[f] : undefined;
      if (bit === undefined) {
        throw new SeccompError(`${ROOT}.flags[${i}]`, `unknown flag ${JSON.stringify(f)} (expected one of ${Object.keys(FLAG_BITS).join(', ')})`);
      }
      flags |= bit;
    });
  }

  const rules: Rule[] = [];
  let notifyAt: string | undefined;
  const syscalls = p.syscalls ?? [];
  if (!Array.isArray(syscalls)) throw new SeccompError(`${ROOT}.syscalls`, 'must be an array');
  syscalls.forEach((s, i) => {
    const path = `${ROOT}.syscalls[${i}]`;
    if (!isObject(s)) throw new SeccompError(path, 'must be an object');
    if (!Array.isArray(s.names) || s.names.length === 0) throw new SeccompError(`${path}.names`, 'must be a non-empty array of syscall names');
    s.names.forEach((n, j) => {
      if (typeof n !== 'string' || n === '') throw new SeccompError(`${path}.names[${j}]`, 'must be a non-empty string');
    });
    const action = encodeAction(s.action, s.errnoRet, `${path}.action`, `${path}.errnoRet`);
    const isNotify = s.action === 'SCMP_ACT_NOTIFY';
    if (isNotify) {
      notifyAt ??= `${path}.action`;
      // The init writes to its parent after loading the filter; a notify on write would hang it (runc refuses too).
      if ((s.names as string[]).includes('write')) throw new SeccompError(`${path}.action`, 'SCMP_ACT_NOTIFY cannot be used for the write syscall');
    }
    const args = s.args ?? [];
    if (!Array.isArray(args)) throw new SeccompError(`${path}.args`, 'must be an array');
    const conditions = args.map((a, j) => readCondition(a, `${path}.args[${j}]`));
    rules.push({ names: s.names as string[], action, isNotify, conditions, path });
  });

  const needsListener = notifyAt !== undefined;
  if (needsListener) {
    if (typeof p.listenerPath !== 'string' || p.listenerPath === '') {
      throw new SeccompError(`${ROOT}.listenerPath`, `is required because ${notifyAt} is SCMP_ACT_NOTIFY`);
    }
    flags |= SECCOMP_FILTER_FLAG.NEW_LISTENER;
    // The kernel refuses TSYNC with NEW_LISTENER unless told how to report a failed sync.
    if (flags & SECCOMP_FILTER_FLAG.TSYNC) flags |= SECCOMP_FILTER_FLAG.TSYNC_ESRCH;
  } else {
    // Only meaningful for a listener; the kernel rejects it without one.
    flags &= ~SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV;
  }

  return {
    defaultAction,
    defaultIsPermissive: PERMISSIVE.has(p.defaultAction as string),
    architectures,
    rules,
    flags,
    needsListener,
  };
}
