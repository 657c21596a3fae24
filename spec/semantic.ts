// Checks the JSON schema cannot express: relations between fields, and rules of the spec and of
// the kernel (duplicates, ranges that overlap, settings that need a namespace, ...).
import type { ValidationIssue } from './issues.js';
import { pointer } from './issues.js';
import { OCI_VERSION } from './names.js';
import { checkLinux } from './semantic-linux.js';
import {
  IssueList, type NamespaceIndex, type Obj, checkIdMappings, idIsMapped, isInt, isObj, isStr, listOf,
  namespaceIndex, objOf,
} from './semantic-util.js';

export function semanticIssues(config: unknown): ValidationIssue[] {
  if (!isObj(config)) return [];
  const issues = new IssueList();
  const namespaces = namespaceIndex(config);
  checkVersion(issues, config);
  checkProcess(issues, config, namespaces);
  // A `linux` of the wrong type was reported by the schema; judging namespaces without it would
  // only add noise.
  if (config.linux !== undefined && !isObj(config.linux)) return issues.items;
  checkHostname(issues, config, namespaces);
  checkMounts(issues, config, namespaces);
  checkLinux(issues, config, namespaces);
  return issues.items;
}

function checkVersion(issues: IssueList, config: Obj): void {
  const m = isStr(config.ociVersion) ? /^(\d+)\.(\d+)\./.exec(config.ociVersion) : null;
  if (!m) return;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const [ourMajor, ourMinor] = OCI_VERSION.split('.').map(Number);
  if (major !== ourMajor) {
    issues.error('/ociVersion', `runtime-spec ${config.ociVersion} is not supported (tsrun reads 1.x up to ${OCI_VERSION})`);
  } else if (minor > ourMinor) {
    issues.warn('/ociVersion', `runtime-spec ${config.ociVersion} is newer than tsrun's ${OCI_VERSION}; fields tsrun does not know are ignored`);
  }
}

const hasNul = (s: string) => s.includes('\0');

function checkProcess(issues: IssueList, config: Obj, namespaces: NamespaceIndex): void {
  if (config.process === undefined) {
    issues.error('/process', 'is required (tsrun starts the container by running it)');
    return;
  }
  const proc = objOf(config.process);
  const args = listOf(proc.args);
  if (args[0] === '') issues.error('/process/args/0', 'must not be empty (it names the program to run)');
  args.forEach((a, i) => {
    if (isStr(a) && hasNul(a)) issues.error(pointer('process', 'args', i), 'contains a NUL byte');
  });
  listOf(proc.env).forEach((e, i) => {
    if (isStr(e) && hasNul(e)) issues.error(pointer('process', 'env', i), 'contains a NUL byte');
  });
  if (isStr(proc.cwd) && hasNul(proc.cwd)) issues.error('/process/cwd', 'contains a NUL byte');

  checkRlimits(issues, proc);
  checkScheduler(issues, objOf(proc.scheduler), isObj(proc.scheduler));
  checkUserMapped(issues, config, objOf(proc.user), namespaces);
}

function checkRlimits(issues: IssueList, proc: Obj): void {
  const seen = new Map<string, number>();
  listOf(proc.rlimits).forEach((r, i) => {
    if (!isObj(r)) return;
    if (isStr(r.type)) {
      const first = seen.get(r.type);
      if (first !== undefined) {
        issues.error(pointer('process', 'rlimits', i, 'type'), `duplicate ${r.type} (first given at /process/rlimits/${first})`);
      } else {
        seen.set(r.type, i);
      }
    }
    if (isInt(r.soft) && isInt(r.hard) && r.hard >= 0 && r.soft > r.hard) {
      issues.error(pointer('process', 'rlimits', i, 'soft'), `soft limit ${r.soft} is above the hard limit ${r.hard}`);
    }
  });
}

function checkScheduler(issues: IssueList, s: Obj, present: boolean): void {
  if (!present || !isStr(s.policy)) return;
  const base = '/process/scheduler';
  if (isInt(s.nice) && (s.nice < -20 || s.nice > 19)) {
    issues.error(`${base}/nice`, `${s.nice} is outside -20..19`);
  }
  const realtime = s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR';
  if (isInt(s.priority)) {
    if (realtime && (s.priority < 1 || s.priority > 99)) {
      issues.error(`${base}/priority`, `${s.policy} needs a priority in 1..99, got ${s.priority}`);
    } else if (!realtime && s.priority !== 0) {
      issues.error(`${base}/priority`, `only SCHED_FIFO and SCHED_RR take a priority (policy is ${s.policy})`);
    }
  } else if (realtime) {
    issues.error(`${base}/priority`, `is required for ${s.policy} (1..99)`);
  }
  if (s.policy !== 'SCHED_DEADLINE') {
    for (const key of ['runtime', 'deadline', 'period']) {
      if (isInt(s[key]) && s[key] !== 0) {
        issues.error(`${base}/${key}`, `only SCHED_DEADLINE takes ${key} (policy is ${s.policy})`);
      }
    }
  }
}

/** With a new user namespace, the process's ids must be mapped or setuid/setgid fail. */
function checkUserMapped(issues: IssueList, config: Obj, user: Obj, namespaces: NamespaceIndex): void {
  const userns = namespaces.get('user');
  if (!userns || userns.path) return;
  const linux = objOf(config.linux);
  // Errors inside the mapping lists are reported by checkLinux; here only the well-formed ranges matter.
  const scratch = new IssueList();
  const uids = checkIdMappings(scratch, linux.uidMappings, ['linux', 'uidMappings']);
  const gids = checkIdMappings(scratch, linux.gidMappings, ['linux', 'gidMappings']);
  if (uids.length && isInt(user.uid) && !idIsMapped(uids, user.uid)) {
    issues.error('/process/user/uid', `uid ${user.uid} is not mapped by linux.uidMappings`);
  }
  if (gids.length && isInt(user.gid) && !idIsMapped(gids, user.gid)) {
    issues.error('/process/user/gid', `gid ${user.gid} is not mapped by linux.gidMappings`);
  }
  listOf(user.additionalGids).forEach((g, i) => {
    if (gids.length && isInt(g) && !idIsMapped(gids, g)) {
      issues.error(pointer('process', 'user', 'additionalGids', i), `gid ${g} is not mapped by linux.gidMappings`);
    }
  });
}

function checkHostname(issues: IssueList, config: Obj, namespaces: NamespaceIndex): void {
  for (const key of ['hostname', 'domainname']) {
    const value = config[key];
    if (!isStr(value) || value === '') continue;
    if (!namespaces.has('uts')) {
      issues.error(`/${key}`, `setting the ${key} needs a "uts" namespace in linux.namespaces (it would change the host's)`);
    }
    const bytes = Buffer.byteLength(value);
    if (bytes > 64) issues.error(`/${key}`, `is ${bytes} bytes long; the kernel allows 64`);
  }
}

const isBindMount = (m: Obj) =>
  m.type === 'bind' || listOf(m.options).some((o) => o === 'bind' || o === 'rbind');

function checkMounts(issues: IssueList, config: Obj, namespaces: NamespaceIndex): void {
  const mounts = listOf(config.mounts);
  if (mounts.length && !namespaces.has('mount')) {
    issues.error('/mounts', 'mounts need a "mount" namespace in linux.namespaces (they would land on the host)');
  }
  mounts.forEach((raw, i) => {
    if (!isObj(raw)) return;
    const m = raw;
    const at = (key: string) => pointer('mounts', i, key);
    if (isStr(m.destination) && m.destination !== '' && !m.destination.startsWith('/')) {
      issues.warn(at('destination'), `relative destination "${m.destination}" is deprecated; it is taken as "/${m.destination}"`);
    }
    if (isBindMount(m)) {
      if (!isStr(m.source) || m.source === '') issues.error(at('source'), 'a bind mount needs a source');
    } else if (!isStr(m.type) || m.type === '') {
      issues.error(at('type'), 'is required unless the mount is a bind mount ("bind" or "rbind" in options)');
    }
    checkIdmapMount(issues, m, i, namespaces);
  });
}

function checkIdmapMount(issues: IssueList, m: Obj, i: number, namespaces: NamespaceIndex): void {
  const hasUid = m.uidMappings !== undefined;
  const hasGid = m.gidMappings !== undefined;
  const options = listOf(m.options);
  const idmapOption = options.find((o) => o === 'idmap' || o === 'ridmap');
  if (hasUid !== hasGid) {
    const missing = hasUid ? 'gidMappings' : 'uidMappings';
    issues.error(pointer('mounts', i, missing), `is required with ${hasUid ? 'uidMappings' : 'gidMappings'} (both or neither)`);
  }
  if (hasUid) checkIdMappings(issues, m.uidMappings, ['mounts', i, 'uidMappings']);
  if (hasGid) checkIdMappings(issues, m.gidMappings, ['mounts', i, 'gidMappings']);
  const mapped = listOf(m.uidMappings).length > 0 || listOf(m.gidMappings).length > 0;
  if ((hasUid || hasGid) && !idmapOption) {
    issues.warn(pointer('mounts', i, 'options'), 'uidMappings/gidMappings on a mount should come with the "idmap" or "ridmap" option');
  }
  if (idmapOption && !mapped && !namespaces.has('user')) {
    issues.error(pointer('mounts', i, 'options'), `"${idmapOption}" without mappings needs a user namespace to take them from`);
  }
}
