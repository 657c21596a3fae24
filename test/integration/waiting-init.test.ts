// The waiting-init program in real containers: what a created container's init is while it waits,
// that `start` runs exactly the configured process through it, late and early seccomp filters,
// a process that cannot be executed any more, and when the init waits as Node instead.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, TSRUN, run } from '../support/containers.js';
import { makeBusyboxRootfs } from '../support/busybox-rootfs.js';
import type { Seccomp, Spec } from '../../spec/types.js';

const t = suite('waiting-init');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

const PROGRAM = /^\/memfd:tsrun-init \(deleted\)$/;
const docker: Seccomp = JSON.parse(readFileSync(new URL('../fixtures/seccomp/default.json', import.meta.url), 'utf8'));

/** `create` with the container's stdout and stderr going to a file; returns the init's pid. */
function createLogged(id: string, bundle: string, log: string, flags: string[] = []): number {
  assert.is(sb.createLogged(id, bundle, log, flags).code, 0, readFileSync(log, 'utf8'));
  return JSON.parse(sb.tsrun(['state', id]).stdout).pid;
}

function startAndWait(id: string): void {
  const r = sb.tsrun(['start', id]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(sb.waitStopped(id), 'stopped');
}

function status(pid: number, field: string): string {
  return readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s*(.*)$`, 'm'))![1];
}

t('a created container waits in the program (a few KB, named tsrun-init); start runs exactly the configured process', () => {
  const id = sb.id();
  const log = join(sb.dir, 'log');
  const args = ['sh', '-c', 'for a in "$0" "$@"; do echo "[$a]"; done; echo "$ONE|$TWO"; env | grep -c ^', 'zero', '', 'two words', '*'];
  const bundle = sb.bundle(args, (s) => {
    s.process!.env = ['PATH=/bin', 'ONE=1', 'TWO=a b=c', 'EMPTY='];
  });
  const pid = createLogged(id, bundle, log);
  assert.match(readlinkSync(`/proc/${pid}/exe`), PROGRAM);
  assert.is(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'tsrun-init\0');
  assert.is(status(pid, 'Name'), 'tsrun-init');
  assert.ok(Number(status(pid, 'VmRSS').split(' ')[0]) < 200, `VmRSS ${status(pid, 'VmRSS')}`);
  startAndWait(id);
  // `env` also shows what the shell itself adds (PWD, SHLVL): 4 configured + those.
  assert.is(readFileSync(log, 'utf8'), '[zero]\n[]\n[two words]\n[*]\n1|a b=c\n6\n');
});

t('kill TERM or HUP ends a created container, as under runc; CHLD, WINCH and CONT do not, and start still runs it', () => {
  for (const signal of ['TERM', 'HUP']) {
    const id = sb.id(signal.toLowerCase());
    assert.is(sb.tsrun(['create', '--bundle', sb.bundle(['true']), id]).code, 0);
    assert.is(sb.tsrun(['kill', id, signal]).code, 0);
    assert.ok(sb.waitStopped(id, 2000), `${signal}: stopped`);
  }
  const runc = sb.id('runc');
  assert.is(sb.runc(['create', '--bundle', sb.bundle(['true']), runc]).code, 0);
  assert.is(sb.runc(['kill', runc, 'TERM']).code, 0);
  assert.ok(sb.waitStopped(runc, 2000, 'runc'), 'runc: the same');

  const id = sb.id('harmless');
  const log = join(sb.dir, 'log');
  createLogged(id, sb.bundle(['echo', 'ran']), log);
  for (const signal of ['CHLD', 'WINCH', 'CONT']) assert.is(sb.tsrun(['kill', id, signal]).code, 0);
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'created');
  startAndWait(id);
  assert.is(readFileSync(log, 'utf8'), 'ran\n');
});

t('no_new_privs: the program loads the seccomp filter last, right before execve', () => {
  const id = sb.id();
  const log = join(sb.dir, 'log');
  const bundle = sb.bundle(['sh', '-c', 'cd /tmp && echo entered || echo refused'], (s) => {
    s.process!.noNewPrivileges = true;
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chdir'], action: 'SCMP_ACT_ERRNO' }] };
  });
  const pid = createLogged(id, bundle, log);
  assert.match(readlinkSync(`/proc/${pid}/exe`), PROGRAM);
  assert.is(status(pid, 'Seccomp'), '0', 'not filtered while it waits');
  startAndWait(id);
  assert.match(readFileSync(log, 'utf8'), /can't cd to \/tmp.*\nrefused\n$/);
});

t("without no_new_privs, Docker's profile is loaded before ready and the program runs under it", () => {
  const id = sb.id();
  const log = join(sb.dir, 'log');
  const bundle = sb.bundle(['sh', '-c', 'echo ran; grep ^Seccomp: /proc/self/status'], (s) => {
    s.process!.noNewPrivileges = false;
    s.linux!.seccomp = docker;
  });
  const pid = createLogged(id, bundle, log);
  assert.match(readlinkSync(`/proc/${pid}/exe`), PROGRAM);
  assert.is(status(pid, 'Seccomp'), '2', 'filtered while it waits');
  startAndWait(id);
  assert.is(readFileSync(log, 'utf8'), 'ran\nSeccomp:\t2\n');
});

const waitsAsNode: [string, (s: Spec) => void, string][] = [
  ['a profile loaded before ready that refuses execveat', (s) => {
    s.process!.noNewPrivileges = false;
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['execveat'], action: 'SCMP_ACT_ERRNO' }] };
  }, 'the seccomp profile does not allow execveat'],
  ['a startContainer hook', (s) => {
    s.hooks = { startContainer: [{ path: '/bin/true' }] };
  }, 'startContainer hooks run from the init'],
];
for (const [what, edit, why] of waitsAsNode) {
  t(`with ${what}, the init waits as Node, says why under --debug, holds no host cgroup fd, and runs the process the same`, () => {
    const id = sb.id();
    const log = join(sb.dir, 'log');
    const pid = createLogged(id, sb.bundle(['echo', 'ran'], edit), log, ['--debug']);
    assert.match(readlinkSync(`/proc/${pid}/exe`), /node/);
    const open = readdirSync(`/proc/${pid}/fd`).map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
    assert.not.ok(open.some((target) => target.startsWith('/sys/fs/cgroup')), `no cgroup fd while it waits: ${open.join(' ')}`);
    assert.match(readFileSync(log, 'utf8'), `the init will wait as Node: ${why}`);
    startAndWait(id);
    assert.match(readFileSync(log, 'utf8'), /\nran\n$/);
  });
}

t('an init waiting as Node ends on kill TERM or HUP too (the program\'s handler, mapped into it); CHLD, WINCH and CONT do not', () => {
  const asNode = (s: Spec) => {
    s.hooks = { startContainer: [{ path: '/bin/true' }] };
  };
  for (const signal of ['TERM', 'HUP']) {
    const id = sb.id(signal.toLowerCase());
    const pid = createLogged(id, sb.bundle(['true'], asNode), join(sb.dir, `log-${signal}`));
    assert.match(readlinkSync(`/proc/${pid}/exe`), /node/);
    assert.is(sb.tsrun(['kill', id, signal]).code, 0);
    assert.ok(sb.waitStopped(id, 2000), `${signal}: stopped`);
  }
  const id = sb.id('harmless');
  const log = join(sb.dir, 'log');
  createLogged(id, sb.bundle(['echo', 'ran'], asNode), log);
  for (const signal of ['CHLD', 'WINCH', 'CONT']) assert.is(sb.tsrun(['kill', id, signal]).code, 0);
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'created');
  startAndWait(id);
  assert.is(readFileSync(log, 'utf8'), 'ran\n');
});

t('vm.memfd_noexec: 1 still lets the program run (MFD_EXEC), 2 makes the init wait as Node; both run the process', () => {
  // The sysctl belongs to the pid namespace: set it in a new one, around a whole `tsrun run`.
  for (const [value, waits] of [[1, 'in the waiting-init program'], [2, 'as Node: memfd_create tsrun-init: EACCES']]) {
    const script = `echo ${value} > /proc/sys/vm/memfd_noexec && exec "$@"`;
    const r = run('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', script, 'sh', TSRUN, '--root', sb.root, '--debug', 'run', '--bundle', sb.bundle(['echo', 'ran']), sb.id(`noexec${value}`)]);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, 'ran\n');
    assert.match(r.stderr, `the init will wait ${waits}`);
  }
});

t('a process that can no longer be executed at start: the program says so on stderr, and the container stops', () => {
  const id = sb.id();
  const log = join(sb.dir, 'log');
  const rootfs = join(sb.dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  writeFileSync(join(rootfs, 'entry'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
  const bundle = sb.bundle(['/entry'], (s) => {
    s.root = { path: rootfs };
  });
  createLogged(id, bundle, log); // resolved and executable at create, as runc checks
  chmodSync(join(rootfs, 'entry'), 0o644);
  startAndWait(id);
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'stopped');
  assert.is(readFileSync(log, 'utf8'), 'tsrun init: process: execve /entry: EACCES\n');
});

t.run();
