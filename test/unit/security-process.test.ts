// Unit tests of the process security planners and appliers (recording Sys): attributes,
// capabilities, id maps, the cwd check, seccomp linking, unsupported LSM fields.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRecordingSys } from '../../runtime/sys/recording.js';
import { applyAttributes, applyInitialAffinity, parseCpuList, planAttributes } from '../../runtime/process/attributes.js';
import { applyCredentials, planCapabilities, type CredentialPlan } from '../../runtime/process/credentials.js';
import { isOwnIdOnly, renderIdMap, writeIdMaps } from '../../runtime/process/idmap.js';
import { enterCwd } from '../../runtime/process/cwd.js';
import { compileSeccompFor } from '../../runtime/container/seccomp-link.js';
import { checkUnsupported } from '../../runtime/container/unsupported.js';
import { S } from '../../runtime/sys/constants.js';
import type { Process, Spec } from '../../spec/types.js';

const proc = (extra: Partial<Process> = {}): Process => ({ user: { uid: 0, gid: 0 }, cwd: '/', args: ['true'], ...extra });

const attrs = suite('attributes');

attrs('sched_attr is the 48-byte VER0 struct', () => {
  const a = planAttributes(proc({ scheduler: { policy: 'SCHED_DEADLINE', flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM'], runtime: 10, deadline: 20, period: 30 } }));
  const b = a.schedAttr!;
  assert.is(b.length, 48);
  assert.is(b.readUInt32LE(0), 48);
  assert.is(b.readUInt32LE(4), 6, 'SCHED_DEADLINE');
  assert.is(b.readBigUInt64LE(8), 3n, 'flags');
  assert.is(b.readBigUInt64LE(24), 10n);
  assert.is(b.readBigUInt64LE(32), 20n);
  assert.is(b.readBigUInt64LE(40), 30n);
  const nice = planAttributes(proc({ scheduler: { policy: 'SCHED_OTHER', nice: -5 } })).schedAttr!;
  assert.is(nice.readInt32LE(16), -5);
});

attrs('ioprio, personality; execCPUAffinity and oomScoreAdj only for exec', () => {
  const spec = { ociVersion: '1.2.0', linux: { personality: { domain: 'LINUX32' } } } as Spec;
  const p = proc({ ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 }, oomScoreAdj: 100, execCPUAffinity: { initial: '0-1', final: '3,5-6' } });
  const init = planAttributes(p, spec);
  assert.is(init.ioprio, (2 << 13) | 4);
  assert.equal(init.personality, { value: 8, domain: 'LINUX32' });
  assert.is(init.initialCpus, undefined);
  assert.is(init.finalCpus, undefined);
  assert.is(init.oomScoreAdj, undefined);
  const exec = planAttributes(p, spec, 'exec');
  assert.equal(exec.initialCpus, [0, 1]);
  assert.equal(exec.finalCpus, [3, 5, 6]);
  assert.is(exec.oomScoreAdj, 100);
  assert.is(planAttributes(proc(), undefined, 'exec').finalCpus, 'all', 'no affinity: reset (as runc)');
  assert.is(planAttributes(proc({ execCPUAffinity: { initial: '1' } }), undefined, 'exec').finalCpus, undefined, 'initial only: keep it');
  assert.equal(parseCpuList('0-2,7'), [0, 1, 2, 7]);
});

attrs('applyAttributes: calls in order, a failure names the field', () => {
  const sys = createRecordingSys();
  const a = planAttributes(proc({ scheduler: { policy: 'SCHED_BATCH' }, ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 }, oomScoreAdj: 7, execCPUAffinity: { final: '1' } }),
    { ociVersion: '1', linux: { personality: { domain: 'LINUX' } } } as Spec, 'exec');
  applyAttributes(sys, a);
  assert.equal(sys.callNames(), ['schedSetattr', 'ioprioSet', 'personality', 'open', 'write', 'close', 'schedSetaffinity']);
  assert.equal(sys.calls[1].args, [1, 0, 3 << 13]);
  assert.equal(sys.calls[3].args[0], '/proc/self/oom_score_adj');
  assert.equal(sys.calls[4].args[1], '7');
  assert.equal(sys.calls[6].args, [0, [1]]);

  const failing = createRecordingSys({ fail: [{ call: 'schedSetattr', code: 'EPERM' }] });
  assert.throws(() => applyAttributes(failing, planAttributes(proc({ scheduler: { policy: 'SCHED_FIFO', priority: 10 } }))), /process\.scheduler: EPERM/);
  const aff = createRecordingSys({ fail: [{ call: 'schedSetaffinity', code: 'EINVAL' }] });
  assert.throws(() => applyInitialAffinity(aff, { initialCpus: [99] }), /execCPUAffinity\.initial: EINVAL/);
  const reset = createRecordingSys({ fail: [{ call: 'schedSetaffinity', code: 'EINVAL' }] });
  applyAttributes(reset, { finalCpus: 'all' }); // best effort, as runc
});

const caps = suite('credentials');

caps('capabilities newer than the kernel are dropped with a warning; unknown names silently (validation warned)', () => {
  const warnings: string[] = [];
  const c = planCapabilities({ bounding: ['CAP_CHOWN', 'CAP_BPF', 'CAP_NOT_REAL'], effective: ['CAP_CHOWN', 'CAP_CHOWN'], ambient: ['CAP_BPF'] }, 38, (m) => warnings.push(m));
  assert.is(c.bounding, 1n);
  assert.is(c.effective, 1n);
  assert.is(c.inheritable, 0n, 'not given: empty (CVE-2022-29162)');
  assert.equal(c.ambient, []);
  assert.is(warnings.length, 1);
  assert.match(warnings[0], 'CAP_BPF');
  assert.not.match(warnings[0], 'CAP_NOT_REAL');
});

const plan = (extra: Partial<CredentialPlan> = {}): CredentialPlan => ({
  uid: 1000, gid: 1000, additionalGids: [5], setGroups: true, bounding: 1n, effective: 1n, permitted: 1n, inheritable: 0n, ambient: [], lastCap: 1, ...extra,
});

caps('setgroups refused by a setgroups=deny namespace keeps going; other failures name the field', () => {
  const sys = createRecordingSys({
    fail: [{ call: 'setgroups', code: 'EPERM' }],
    results: { read: (_fd: number, buf: Buffer) => buf.write('deny\n') },
  });
  applyCredentials(sys, plan());
  assert.ok(sys.callNames().includes('setresuid'));
  const allow = createRecordingSys({ fail: [{ call: 'setgroups', code: 'EPERM' }], results: { read: (_fd: number, buf: Buffer) => buf.write('allow\n') } });
  assert.throws(() => applyCredentials(allow, plan()), /process\.user\.additionalGids: EPERM/);
  const unmapped = createRecordingSys({ fail: [{ call: 'setresuid', code: 'EINVAL' }] });
  assert.throws(() => applyCredentials(unmapped, plan()), /process\.user\.uid 1000: EINVAL \(not mapped in the user namespace\?\)/);
});

const idmap = suite('idmap');

idmap('render and own-id detection', () => {
  assert.is(renderIdMap([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }]), '0 1000 1\n1 100000 65536\n');
  assert.ok(isOwnIdOnly([{ containerID: 0, hostID: 1000, size: 1 }], 1000));
  assert.not.ok(isOwnIdOnly([{ containerID: 0, hostID: 1000, size: 2 }], 1000));
  assert.not.ok(isOwnIdOnly([{ containerID: 0, hostID: 1001, size: 1 }], 1000));
});

idmap('rootless with several ranges runs newuidmap/newgidmap with the ranges as arguments', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-idmap-'));
  try {
    const fake = join(dir, 'fake-helper');
    writeFileSync(fake, `#!/bin/sh\necho "$(basename $0) $*" >> ${dir}/calls\n`);
    chmodSync(fake, 0o755);
    const maps = [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }];
    writeIdMaps(4242, maps, maps, { euid: 1000, egid: 1000, newuidmap: fake, newgidmap: fake });
    assert.is(readFileSync(join(dir, 'calls'), 'utf8'), 'fake-helper 4242 0 1000 1 1 100000 65536\n'.repeat(2));
    const failing = join(dir, 'failing-helper');
    writeFileSync(failing, '#!/bin/sh\necho "newuidmap: uid range [1-65537) -> [100000-165536) not allowed" >&2\nexit 1\n');
    chmodSync(failing, 0o755);
    assert.throws(() => writeIdMaps(4242, maps, [], { euid: 1000, egid: 1000, newuidmap: failing }), /linux\.uidMappings: .*not allowed \(check \/etc\/subuid\)/);
    assert.throws(() => writeIdMaps(4242, maps, [], { euid: 1000, egid: 1000, newuidmap: join(dir, 'missing') }), /package uidmap/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const cwd = suite('cwd');

cwd('a cwd whose ".." chain never meets the root is refused', () => {
  // "/" is inode 2; the cwd walks 50 -> 40 -> 30 -> 30 (its own parent: the top of another tree).
  const chain: Record<number, bigint> = { 10: 50n, 11: 40n, 12: 30n, 13: 30n };
  let next = 10;
  const stat = (ino: bigint) => ({ mode: S.IFDIR | 0o755, uid: 0, gid: 0, size: 0n, ino, dev: { major: 0, minor: 1 }, rdev: { major: 0, minor: 0 }, nlink: 1, mtimeNs: 0n });
  const sys = createRecordingSys({
    results: {
      stat: () => stat(2n),
      open: () => next++,
      openat: () => next++,
      fstat: (fd: number) => stat(chain[fd]),
    },
  });
  assert.throws(() => enterCwd(sys, '/proc/self/fd/7'), /process\.cwd "\/proc\/self\/fd\/7": is outside the container root/);
  let n2 = 20;
  const inside = createRecordingSys({
    results: { stat: () => stat(2n), open: () => n2++, openat: () => n2++, fstat: (fd: number) => stat(fd === 20 ? 60n : 2n) },
  });
  enterCwd(inside, '/var/tmp');
  assert.is(inside.calls[0].call, 'chdir');
});

const link = suite('seccomp-link');

link('notify profiles report a listener; notify on sendmsg is refused', () => {
  const spec = (names: string[]) => ({
    ociVersion: '1.2.0',
    linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names, action: 'SCMP_ACT_NOTIFY' }] } },
  }) as Spec;
  assert.ok(compileSeccompFor(spec(['mkdir']))!.listener);
  assert.not.ok(compileSeccompFor({ ociVersion: '1.2.0', linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] } } } as Spec)!.listener);
  assert.throws(() => compileSeccompFor(spec(['mkdir', 'sendmsg'])), /linux\.seccomp\.syscalls\[0\]\.action: SCMP_ACT_NOTIFY cannot be used for the sendmsg syscall/);
  assert.is(compileSeccompFor({ ociVersion: '1.2.0' } as Spec), undefined);
});

const lsm = suite('unsupported');

lsm('AppArmor and SELinux fields are refused by name when the kernel lacks them', () => {
  const base = (edit: (s: Spec) => void) => {
    const s = { ociVersion: '1.2.0', process: proc(), linux: {} } as Spec;
    edit(s);
    return s;
  };
  const cases: [string, (s: Spec) => void, string][] = [
    ['process.apparmorProfile', (s) => (s.process!.apparmorProfile = 'docker-default'), '/sys/kernel/security/apparmor'],
    ['process.selinuxLabel', (s) => (s.process!.selinuxLabel = 'system_u:system_r:container_t:s0'), '/sys/fs/selinux/enforce'],
    ['linux.mountLabel', (s) => (s.linux!.mountLabel = 'system_u:object_r:container_file_t:s0'), '/sys/fs/selinux/enforce'],
  ];
  for (const [field, edit, probe] of cases) {
    if (existsSync(probe)) {
      checkUnsupported(base(edit)); // supported here: no error
    } else {
      assert.throws(() => checkUnsupported(base(edit)), new RegExp(`^${field.replace('.', '\\.')}: unsupported`));
    }
  }
});

attrs.run();
caps.run();
idmap.run();
cwd.run();
link.run();
lsm.run();
