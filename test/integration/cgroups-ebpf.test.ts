// The v2 device filter for real: an eBPF BPF_CGROUP_DEVICE program attached to a cgroup of the
// unified hierarchy (/sys/fs/cgroup/unified/tsrun-test-*: works in hybrid mode too).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { linuxSys } from '../../runtime/sys/linux.js';
import { bpfDeviceFilterLoader, deviceFilterProgram, effectiveDeviceRules } from '../../runtime/cgroups/index.js';
import { rulesFromConfig } from '../../runtime/cgroups/devices.js';

const UNIFIED = existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';

/** Run a shell that first moves itself into `dir`, then the script; returns its output. */
function inCgroup(dir: string, script: string): { out: string; err: string; status: number | null } {
  const r = spawnSync('sh', ['-c', `echo $$ > ${dir}/cgroup.procs || exit 99; ${script}`], { encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

test('deny all but /dev/null: /dev/null opens, /dev/zero gets EPERM; a new program replaces the old; detach restores', () => {
  const dir = `${UNIFIED}/tsrun-test-ebpf-${process.pid}`;
  const loader = bpfDeviceFilterLoader(linuxSys);
  mkdirSync(dir);
  try {
    loader.attach(dir, deviceFilterProgram(rulesFromConfig([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }])));
    assert.is(loader.attached(dir).length, 1);
    let r = inCgroup(dir, 'echo hi > /dev/null && echo null-ok; head -c1 /dev/zero > /dev/null && echo zero-ok; true');
    assert.is(r.out, 'null-ok\n');
    assert.match(r.err, /\/dev\/zero.*Operation not permitted/);

    // set() again (update): one program attached, with the new rules
    const before = loader.attached(dir);
    loader.attach(dir, deviceFilterProgram(effectiveDeviceRules([{ allow: false, access: 'rwm' }])));
    const after = loader.attached(dir);
    assert.is(after.length, 1);
    assert.is.not(after[0], before[0]);
    r = inCgroup(dir, 'head -c1 /dev/zero > /dev/null && echo zero-ok; head -c1 /dev/full > /dev/null && echo full-ok; cat /dev/kmsg > /dev/null 2>&1 || echo kmsg-denied');
    assert.is(r.out, 'zero-ok\nfull-ok\nkmsg-denied\n', r.err);

    loader.detachAll(dir);
    assert.equal(loader.attached(dir), []);
    r = inCgroup(dir, 'head -c1 /dev/zero > /dev/null && echo zero-ok');
    assert.is(r.out, 'zero-ok\n');
  } finally {
    try {
      loader.detachAll(dir);
    } catch {
      // the directory may be gone
    }
    rmdirSync(dir);
  }
});

test.run();
