// The init plan and the last steps before execve, checked against the recording double.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultSpec } from '../../spec/defaults.js';
import { planProcess } from '../../runtime/process/build-plan.js';
import { applyCredentials, capMask } from '../../runtime/process/credentials.js';
import { becomeProcess, execProcess } from '../../runtime/process/init.js';
import { createRecordingSys } from '../../runtime/sys/recording.js';
import { PR } from '../../runtime/sys/constants.js';

test('capability names become masks by capability number', () => {
  assert.is(capMask(['CAP_CHOWN']), 1n);
  assert.is(capMask(['CAP_SYS_ADMIN', 'CAP_KILL']), (1n << 21n) | (1n << 5n));
  assert.is(capMask([]), 0n);
});

test('planProcess takes user, caps, rlimits and env from the config', () => {
  const spec = defaultSpec();
  spec.process!.user = { uid: 7, gid: 8, additionalGids: [9], umask: 0o22 };
  spec.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }];
  const p = planProcess(spec.process!, { rootless: false, preserveFds: 0 });
  assert.is(p.credentials.uid, 7);
  assert.is(p.credentials.gid, 8);
  assert.equal(p.credentials.additionalGids, [9]);
  assert.is(p.credentials.setGroups, true);
  assert.equal(p.rlimits, [{ name: 'RLIMIT_NOFILE', resource: 7, soft: 100n, hard: 200n }]);
  assert.is(p.credentials.bounding, capMask(spec.process!.capabilities!.bounding));
  assert.is(p.credentials.inheritable, 0n, 'inheritable empty unless asked (CVE-2022-29162)');
  assert.is(planProcess(spec.process!, { rootless: true, preserveFds: 0 }).credentials.setGroups, false);
});

test('credentials: bounding drops, keepcaps around the uid change, then capset and ambient', () => {
  const sys = createRecordingSys();
  applyCredentials(sys, {
    uid: 1000, gid: 1000, additionalGids: [5], setGroups: true,
    bounding: capMask(['CAP_KILL']), effective: capMask(['CAP_KILL']), permitted: capMask(['CAP_KILL']),
    inheritable: capMask(['CAP_KILL']), ambient: [5], lastCap: 6,
  });
  const names = sys.callNames();
  const drops = sys.calls.filter((c) => c.call === 'prctl' && c.args[0] === PR.CAPBSET_DROP).map((c) => c.args[1]);
  assert.equal(drops, [0, 1, 2, 3, 4, 6], 'every cap but CAP_KILL (5) dropped from the bounding set');
  const order = names.filter((n) => n !== 'prctl' || true).slice(drops.length);
  assert.equal(order, ['prctl', 'setgroups', 'setresgid', 'setresuid', 'prctl', 'capset', 'prctl']);
  assert.equal(sys.calls.find((c) => c.call === 'capset')!.args, [32n, 32n, 32n]);
});

test('becomeProcess then execProcess: cwd (as root first), identity, no_new_privs, umask, seccomp, signals, fds, execve', () => {
  const sys = createRecordingSys();
  const proc = planProcess({ args: ['/bin/sh'], cwd: '/work', env: ['A=1'], noNewPrivileges: true, user: { uid: 0, gid: 0, umask: 0o77 } } as never, { rootless: false, preserveFds: 1 });
  becomeProcess(sys, proc);
  assert.throws(() => execProcess(sys, proc, '/bin/sh', { filter: Buffer.alloc(8), flags: 0, beforeCredentials: false }), /execve/);
  const names = sys.callNames().filter((n) => n !== 'prctl');
  // chdir, then the check that the cwd is inside the container root (CVE-2024-21626)
  assert.equal(names.slice(0, 5), ['chdir', 'stat', 'open', 'fstat', 'close']);
  const tail = names.slice(names.indexOf('capset'));
  assert.equal(tail, ['capset', 'umask', 'seccompSetFilter', 'resetSignals', 'fcntl', 'fcntl', 'fcntl', 'fcntl', 'closeRange', 'execve']);
  const closeRange = sys.calls.find((c) => c.call === 'closeRange')!;
  assert.is(closeRange.args[0], 4, 'fds above stdio + preserved are closed on exec');
  const nnp = sys.calls.find((c) => c.call === 'prctl' && c.args[0] === PR.SET_NO_NEW_PRIVS);
  assert.ok(nnp, 'no_new_privs set');
  assert.ok(sys.calls.indexOf(nnp!) < sys.calls.findIndex((c) => c.call === 'seccompSetFilter'), 'before seccomp');
  assert.equal(sys.calls.at(-1)!.args, ['/bin/sh', ['/bin/sh'], ['A=1']]);
});

test('becomeProcess: a cwd root may not enter (EACCES) is retried after becoming the user', () => {
  const sys = createRecordingSys({ fail: [{ call: 'chdir', code: 'EACCES' }] });
  const proc = planProcess({ args: ['/bin/sh'], cwd: '/secret', user: { uid: 1000, gid: 1000 } } as never, { rootless: false, preserveFds: 0 });
  assert.throws(() => becomeProcess(sys, proc), /process\.cwd "\/secret": EACCES/);
  const names = sys.callNames();
  assert.is(names.filter((n) => n === 'chdir').length, 2, 'tried as root, then as the user');
  assert.ok(names.indexOf('setresuid') > names.indexOf('chdir') && names.lastIndexOf('chdir') > names.indexOf('setresuid'));
});

test.run();
