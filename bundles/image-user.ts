// Turning an image's "User" (name, uid, name:group, uid:gid, ...) into numeric ids by reading the
// image's own /etc/passwd and /etc/group, with the rules runc and umoci follow: a numeric user need
// not exist (its gid is then 0 unless the passwd entry has one), a name must; without a group, the
// user's groups from /etc/group become additional gids.
import { BundleError } from './errors.js';

export interface PasswdEntry { name: string; uid: number; gid: number; home: string }
export interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean) });
  }
  return out;
}

export interface ResolvedUser { uid: number; gid: number; additionalGids?: number[] }

const NUMERIC = /^\d+$/;
const MAX_ID = 2 ** 32 - 1;

function numericId(s: string, what: string): number {
  const n = Number(s);
  if (n > MAX_ID) throw new BundleError(`image config User: ${what} ${s} is out of range`);
  return n;
}

/** `readFile` returns a file of the rootfs (symlinks resolved inside it) or null. */
export function resolveImageUser(user: string | undefined, readFile: (path: string) => Buffer | null): ResolvedUser {
  if (!user) return { uid: 0, gid: 0 };
  const colon = user.indexOf(':');
  const userPart = colon < 0 ? user : user.slice(0, colon);
  const groupPart = colon < 0 ? undefined : user.slice(colon + 1);
  let passwd: PasswdEntry[] | null = null;
  let groups: GroupEntry[] | null = null;
  const loadPasswd = () => (passwd ??= parsePasswd(readFile('/etc/passwd')?.toString('utf8') ?? ''));
  const loadGroups = () => (groups ??= parseGroup(readFile('/etc/group')?.toString('utf8') ?? ''));

  let uid: number;
  let gid = 0;
  let matched: PasswdEntry | undefined;
  if (userPart === '') {
    uid = 0;
  } else if (NUMERIC.test(userPart)) {
    uid = numericId(userPart, 'uid');
    matched = loadPasswd().find((p) => p.uid === uid);
  } else {
    matched = loadPasswd().find((p) => p.name === userPart);
    if (!matched) throw new BundleError(`image config User "${user}": no user "${userPart}" in the image's /etc/passwd`);
    uid = matched.uid;
  }
  if (matched) gid = matched.gid;

  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) {
      gid = numericId(groupPart, 'gid');
    } else {
      const g = loadGroups().find((e) => e.name === groupPart);
      if (!g) throw new BundleError(`image config User "${user}": no group "${groupPart}" in the image's /etc/group`);
      gid = g.gid;
    }
    return { uid, gid };
  }
  if (!matched) return { uid, gid };
  const extra = [...new Set(loadGroups().filter((g) => g.members.includes(matched!.name)).map((g) => g.gid))];
  return extra.length ? { uid, gid, additionalGids: extra } : { uid, gid };
}
