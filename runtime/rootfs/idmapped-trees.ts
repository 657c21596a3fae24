// Idmapped bind mounts ("idmap", "ridmap"): made by tsrun on the host before the container's
// processes are forked, because cloning a host mount (open_tree) and idmapping it (mount_setattr
// MOUNT_ATTR_IDMAP) need CAP_SYS_ADMIN over the host's mounts, which the init in its own user
// namespace does not have. The init inherits each detached tree's fd and moves it into place.
// The idmapping comes from a user namespace holding the mount's mappings: a short-lived child that
// unshares one, whose maps tsrun writes, and whose namespace fd outlives it.
import type { Sys } from '../sys/sys.js';
import { AT, CLONE, MS, O, OPEN_TREE } from '../sys/constants.js';
import type { IDMapping } from '../../spec/types.js';
import { renderIdMap, writeIdMaps } from '../process/idmap.js';
import { RootfsConfigError } from './errors.js';
import { MOUNT_ATTR } from './options.js';
import type { IdmapPlan, PlannedMount, RootfsPlan } from './plan.js';

/**
 * Clones and idmaps the source of every idmapped mount of the plan, filling in `idmap.treeFd`.
 * Returns the fds the caller must close once the init is forked (or on failure).
 */
export function prepareIdmappedMounts(sys: Sys, plan: RootfsPlan): number[] {
  const mounts = plan.steps.filter((s): s is PlannedMount & { idmap: IdmapPlan } => s.op === 'mount' && s.idmap !== undefined);
  if (mounts.length === 0) return [];
  if (sys.geteuid() !== 0) throw new RootfsConfigError(`${mounts[0].where}.options`, 'idmapped mounts need tsrun to run as root');
  const trees: number[] = [];
  const namespaces = new Map<string, number>();
  try {
    for (const m of mounts) {
      const key = renderIdMap(m.idmap.uidMappings) + '|' + renderIdMap(m.idmap.gidMappings);
      let userns = namespaces.get(key);
      if (userns === undefined) {
        userns = userNamespaceWith(sys, m.idmap.uidMappings, m.idmap.gidMappings, m.where);
        namespaces.set(key, userns);
      }
      const recursiveClone = (m.flags & MS.REC) !== 0 ? AT.RECURSIVE : 0;
      const tree = sys.openTree(AT.FDCWD, m.source!, OPEN_TREE.CLONE | OPEN_TREE.CLOEXEC | recursiveClone);
      trees.push(tree);
      sys.mountSetattr(tree, '', AT.EMPTY_PATH | (m.idmap.recursive ? AT.RECURSIVE : 0), { set: MOUNT_ATTR.IDMAP, clear: 0, usernsFd: userns });
      m.idmap.treeFd = tree;
    }
    return trees;
  } catch (e) {
    for (const fd of trees) sys.close(fd);
    throw e;
  } finally {
    for (const fd of namespaces.values()) sys.close(fd);
  }
}

/** A user namespace with these maps, as an fd (the child that made it is gone when this returns). */
function userNamespaceWith(sys: Sys, uid: IDMapping[], gid: IDMapping[], where: string): number {
  const [readyR, readyW] = sys.pipe2(O.CLOEXEC);
  const [holdR, holdW] = sys.pipe2(O.CLOEXEC);
  const pid = sys.fork();
  if (pid === 0) {
    try {
      sys.close(readyR);
      sys.close(holdW);
      sys.unshare(CLONE.NEWUSER);
      sys.write(readyW, 'u');
      sys.read(holdR, Buffer.alloc(1)); // EOF once the parent has the namespace
      sys.exit(0);
    } catch {
      sys.exit(1);
    }
  }
  sys.close(readyW);
  sys.close(holdR);
  try {
    if (sys.read(readyR, Buffer.alloc(1)) !== 1) throw new RootfsConfigError(`${where}.options`, 'could not make a user namespace for the idmapped mount');
    writeIdMaps(pid, uid, gid, { euid: 0, egid: 0, fields: { uid: `${where}.uidMappings`, gid: `${where}.gidMappings` } });
    return sys.open(`/proc/${pid}/ns/user`, O.RDONLY | O.CLOEXEC);
  } finally {
    sys.close(holdW);
    sys.close(readyR);
    sys.waitpid(pid);
  }
}
