// CgroupSelfJoin: stage 1 forks into the cgroup2 directory (clone3, falling back to fork on old
// kernels), the new process writes "0" to each v1 `tasks` file, and when tsrun may leave it to them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeUnifiedFd, forkInto, joinsItself, joinV1Cgroups } from '../../runtime/process/cgroup-join.js';
import { mayJoinCgroupsItself } from '../../runtime/container/cgroup-link.js';
import { waitsForJoined } from '../../runtime/process/exec-stages.js';
import { createRecordingSys } from '../../runtime/sys/recording.js';
import { SyscallError } from '../../runtime/sys/errors.js';
import { defaultSpec } from '../../spec/defaults.js';

test('forkInto: clone3 into the cgroup2 directory; fork without one, or where the kernel lacks CLONE_INTO_CGROUP', () => {
  const sys = createRecordingSys();
  assert.equal(forkInto(sys, 40), { pid: 12346, bornInCgroup: true });
  assert.equal(sys.calls, [{ call: 'cloneIntoCgroup', args: [40] }]);
  const v1Only = createRecordingSys();
  assert.equal(forkInto(v1Only, undefined), { pid: 12345, bornInCgroup: false });
  assert.equal(v1Only.callNames(), ['fork']);
  for (const code of ['ENOSYS', 'EINVAL', 'E2BIG']) {
    const old = createRecordingSys({ fail: [{ call: 'cloneIntoCgroup', code }] });
    assert.equal(forkInto(old, 40), { pid: 12345, bornInCgroup: false }, code);
  }
  const refused = createRecordingSys({ fail: [{ call: 'cloneIntoCgroup', code: 'EACCES' }] });
  assert.throws(() => forkInto(refused, 40), (e: unknown) => e instanceof SyscallError && e.code === 'EACCES');
});

test('joinV1Cgroups: "0" to each tasks file, closed after; a failure names the file', () => {
  const sys = createRecordingSys();
  joinV1Cgroups(sys, [{ fd: 30, path: '/cg/memory/c/tasks' }, { fd: 31, path: '/cg/cpuset/c/tasks' }]);
  assert.equal(sys.calls, [
    { call: 'write', args: [30, '0'] }, { call: 'close', args: [30] },
    { call: 'write', args: [31, '0'] }, { call: 'close', args: [31] },
  ]);
  const full = createRecordingSys({ fail: [{ call: 'write', code: 'ENOSPC' }] });
  assert.throws(() => joinV1Cgroups(full, [{ fd: 30, path: '/cg/cpuset/c/tasks' }]), /^write \/cg\/cpuset\/c\/tasks: ENOSPC$/);
});

test('closeUnifiedFd: the forked process closes the cgroup2 directory fd it was born with', () => {
  const sys = createRecordingSys();
  closeUnifiedFd(sys, { unifiedFd: 40, tasks: [] });
  closeUnifiedFd(sys, { tasks: [] });
  closeUnifiedFd(sys, undefined);
  assert.equal(sys.calls, [{ call: 'close', args: [40] }]);
});

test('joinsItself: born in the cgroup2 directory, or there is none; never without a CgroupSelfJoin', () => {
  assert.is(joinsItself({ unifiedFd: 40, tasks: [] }, true), true);
  assert.is(joinsItself({ unifiedFd: 40, tasks: [] }, false), false, 'old kernel: the parent writes cgroup.procs');
  assert.is(joinsItself({ tasks: [] }, false), true, 'v1 only');
  assert.is(joinsItself(undefined, true), false);
});

test("exec: the process waits for the parent's 'joined' unless it joined itself; always when it hands a seccomp listener over", () => {
  const filter = { filter: Buffer.alloc(8), flags: 0, beforeCredentials: true };
  assert.is(waitsForJoined(false, { seccomp: undefined }), true, 'the parent writes cgroup.procs');
  assert.is(waitsForJoined(true, { seccomp: undefined }), false, 'nothing to wait for');
  assert.is(waitsForJoined(true, { seccomp: filter }), false);
  // its listener packets must follow stage 1's 'pid' on the channel (seen interleaved: "recvmsg (no SCM_RIGHTS fd): EINVAL")
  assert.is(waitsForJoined(true, { seccomp: { ...filter, listener: true } }), true);
});

test('mayJoinCgroupsItself: not rootless, not with a user or cgroup namespace (new or joined)', () => {
  const spec = defaultSpec();
  assert.is(mayJoinCgroupsItself(spec, false), true);
  assert.is(mayJoinCgroupsItself(spec, true), false, 'rootless');
  for (const ns of [{ type: 'user' as const }, { type: 'cgroup' as const }, { type: 'cgroup' as const, path: '/proc/1/ns/cgroup' }]) {
    const s = defaultSpec();
    s.linux!.namespaces = [...s.linux!.namespaces!.filter((n) => n.type !== ns.type), ns];
    assert.is(mayJoinCgroupsItself(s, false), false, JSON.stringify(ns));
  }
});

test.run();
