// cgroup v2 for real on this hybrid host: the manager in pure-v2 mode on a cgroup2 hierarchy that
// a child mounts in its own mount namespace (`unshare -m`). That hierarchy has no controllers in
// use here, so this covers mkdir, cgroup.procs, cgroup.freeze/cgroup.events, cgroup.kill, the
// eBPF device filter, v2 stats of the core files, rmdir; the controller files are unit-tested.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./cgroups-v2-ns.child.ts', import.meta.url));
const hostUnified = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

test('pure-v2 manager on a cgroup2 mount in a private mount namespace', () => {
  const mnt = mkdtempSync(join(tmpdir(), 'tsrun-test-cg2-'));
  const name = `tsrun-test-v2-${process.pid}`;
  try {
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', process.execPath, '--single-threaded', '--import', 'tsx', child, mnt, name], {
      encoding: 'utf8', timeout: 60000,
    });
    assert.is(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.is(res.error, undefined, res.error);
    assert.is(res.mode, 'v2');
    assert.equal(res.paths, { '': `${mnt}/${name}/ctr` });
    assert.is(res.created, true);
    assert.is(res.procCgroup, `0::/${name}/ctr`);
    assert.equal(res.pids, [res.sleeperPid]);
    assert.is(res.frozenState, 'frozen');
    assert.is(res.frozenEvents, '1');
    assert.is(res.thawedState, 'thawed');
    assert.is(res.thawedEvents, '0');
    assert.is(res.statsPids, 1, 'counted from cgroup.procs (no pids controller)');
    assert.is(res.statsCpuTotalIsBigint, true);
    assert.is(res.killedBy, 'SIGKILL');
    assert.is(res.deviceProbe, 'null-ok\nkmsg-denied\n');
    assert.is(res.termBy, 'SIGTERM');
    assert.is(res.stateAfterTerm, 'thawed');
    assert.match(res.pidsError, /linux\.resources\.pids\.limit: the pids controller is not enabled for .*\(cgroup\.controllers: none\)/);
    assert.is(res.removed, true);
    assert.is(res.cleanupError, undefined);
  } finally {
    // Same hierarchy as the host's unified one: make sure nothing is left there.
    const left = join(hostUnified, name);
    if (existsSync(join(left, 'ctr'))) rmdirSync(join(left, 'ctr'));
    if (existsSync(left)) rmdirSync(left);
    if (existsSync(mnt) && readdirSync(mnt).length === 0) rmdirSync(mnt);
  }
});

test.run();
