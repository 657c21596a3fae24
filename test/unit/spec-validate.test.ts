import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { defaultSpec, rootlessSpec } from '../../spec/defaults.js';
import { ConfigError, type ValidationIssue, loadConfig, parseConfig, validateConfig } from '../../spec/validate.js';
import type { Spec } from '../../spec/types.js';
import { ensureGeneratedValidator, hasCommand, inTempDir } from './spec-helpers.js';

ensureGeneratedValidator();

const show = (issues: ValidationIssue[]) => issues.map((i) => `${i.severity} ${i.path}: ${i.message}`).join('\n');
const errorsOf = (c: unknown) => validateConfig(c).filter((i) => i.severity === 'error');
const warningsOf = (c: unknown) => validateConfig(c).filter((i) => i.severity === 'warning');

test('the defaults validate without errors or warnings', () => {
  for (const [name, spec] of [
    ['default', defaultSpec({ cgroupNamespace: false })],
    ['default + cgroupns', defaultSpec({ cgroupNamespace: true })],
    ['rootless', rootlessSpec({ uid: 1000, gid: 1000 })],
    ['rootless as caller', rootlessSpec()],
  ] as const) {
    const issues = validateConfig(spec);
    assert.is(issues.length, 0, `${name}:\n${show(issues)}`);
  }
});

test('what `runc spec` (and --rootless) writes validates cleanly', async () => {
  if (!hasCommand('runc')) {
    console.log('  (runc not installed: skipped)');
    return;
  }
  await inTempDir((dir) => {
    for (const args of [['spec'], ['spec', '--rootless']]) {
      const bundle = join(dir, args.join('-'));
      mkdirSync(bundle);
      execFileSync('runc', [...args, '--bundle', bundle]);
      const issues = validateConfig(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')));
      assert.is(issues.length, 0, `runc ${args.join(' ')}:\n${show(issues)}`);
      assert.ok(loadConfig(bundle).process);
    }
  });
});

test('containerd\'s default spec (`ctr oci spec`) validates once it has args', () => {
  if (!hasCommand('ctr')) return console.log('  (ctr not installed: skipped)');
  const spec = JSON.parse(execFileSync('ctr', ['oci', 'spec'], { encoding: 'utf8' }));
  assert.ok(errorsOf(spec).some((i) => i.path === '/process/args'), 'containerd leaves args to the image config');
  spec.process.args = ['sh'];
  const issues = validateConfig(spec);
  assert.is(issues.length, 0, show(issues));
});

/** A config that uses nearly every field, correctly: no false positives allowed. */
function kitchenSink(): Spec {
  const spec = defaultSpec({ cgroupNamespace: true });
  const ranges = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.ociVersion = '1.0.2-dev';
  spec.process!.terminal = false;
  spec.process!.consoleSize = { height: 24, width: 80 };
  spec.process!.user = { uid: 1000, gid: 1000, umask: 18, additionalGids: [5, 6] };
  spec.process!.capabilities!.ambient = ['CAP_KILL'];
  spec.process!.capabilities!.inheritable = ['CAP_KILL'];
  spec.process!.rlimits!.push({ type: 'RLIMIT_CORE', soft: 0, hard: 18446744073709551615 });
  spec.process!.oomScoreAdj = -999;
  spec.process!.apparmorProfile = 'docker-default';
  spec.process!.selinuxLabel = 'system_u:system_r:container_t:s0';
  spec.process!.scheduler = { policy: 'SCHED_FIFO', priority: 10, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
  spec.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
  spec.process!.execCPUAffinity = { initial: '0-1', final: '0-3,7' };
  spec.domainname = 'example.test';
  spec.annotations = { 'org.opencontainers.image.ref.name': 'busybox', 'io.kubernetes.cri.container-type': 'container' };
  spec.hooks = {
    createRuntime: [{ path: '/usr/bin/hook', args: ['hook', 'create'], env: ['A=1'], timeout: 5 }],
    poststop: [{ path: '/bin/true' }],
  };
  spec.mounts!.push(
    { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro', 'idmap'], uidMappings: ranges, gidMappings: ranges },
    { destination: '/cache', source: 'cache', options: ['bind'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=10m', 'ridmap'] },
  );
  const linux = spec.linux!;
  linux.namespaces!.push({ type: 'user' }, { type: 'time' });
  linux.namespaces![1] = { type: 'network', path: '/var/run/netns/test' };
  linux.uidMappings = ranges;
  linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 1000, hostID: 200000, size: 1000 }];
  linux.timeOffsets = { monotonic: { secs: -100, nanosecs: 5 }, boottime: { secs: 1 } };
  linux.sysctl = {
    'net.ipv4.ip_forward': '1', 'net/core/somaxconn': '256', 'kernel.shmmax': '1000', 'fs.mqueue.msg_max': '20',
    'kernel.domainname': 'x', 'user.max_user_namespaces': '10',
  };
  linux.devices = [
    { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
    { type: 'p', path: '/dev/myfifo' },
  ];
  linux.netDevices = { eth1: { name: 'ctr1' }, 'veth%d': {} };
  linux.cgroupsPath = 'system.slice:tsrun:test';
  linux.resources = {
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: -1, minor: -1, access: 'm' }, { allow: true, type: 'b', major: 8, minor: 0, access: 'r' }],
    memory: { limit: 536870912, reservation: 268435456, swap: 1073741824, kernel: -1, kernelTCP: -1, swappiness: 0, disableOOMKiller: false, useHierarchy: true, checkBeforeUpdate: true },
    cpu: { shares: 1024, quota: 100000, burst: 50000, period: 100000, realtimeRuntime: 950000, realtimePeriod: 1000000, cpus: '0-3', mems: '0', idle: 0 },
    blockIO: {
      weight: 500, leafWeight: 300, weightDevice: [{ major: 8, minor: 0, weight: 500 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 300 }],
    },
    hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }, { pageSize: '64KB', limit: 1000000 }],
    network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
    pids: { limit: 0 },
    rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
    unified: { 'memory.high': '1000000', 'io.max': '259:0 rbps=2097152' },
  };
  linux.intelRdt = { closID: 'guaranteed_group', l3CacheSchema: 'L3:0=7f0;1=1f', memBwSchema: 'MB:0=20;1=70', schemata: ['L2:0=f'], enableMonitoring: true };
  linux.memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] };
  linux.personality = { domain: 'LINUX32' };
  linux.rootfsPropagation = 'rslave';
  linux.seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'], listenerPath: '/run/agent.sock', listenerMetadata: 'meta',
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['ptrace'], action: 'SCMP_ACT_TRACE', errnoRet: 38 },
    ],
  };
  linux.mountLabel = 'system_u:object_r:container_file_t:s0';
  return spec;
}

test('a config using nearly every field validates without errors or warnings', () => {
  const issues = validateConfig(kitchenSink());
  assert.is(issues.length, 0, show(issues));
});

test('joined namespaces: a user namespace by path needs no mappings', () => {
  const spec = defaultSpec({ cgroupNamespace: false });
  spec.linux!.namespaces!.push({ type: 'user', path: '/proc/1234/ns/user' });
  assert.is(errorsOf(spec).length, 0, show(validateConfig(spec)));
});

test('warnings do not fail the config and reach onWarning', () => {
  const spec: any = defaultSpec({ cgroupNamespace: false });
  spec.vendorExtension = { x: 1 };
  spec.mounts.push({ destination: 'relative/dir', type: 'tmpfs', source: 'tmpfs' });
  spec.linux.namespaces[0].extra = true;
  spec.ociVersion = '1.9.0';
  const warnings = warningsOf(spec);
  const paths = warnings.map((w) => w.path).sort();
  assert.equal(paths, ['/linux/namespaces/0/extra', '/mounts/7/destination', '/ociVersion', '/vendorExtension'], show(warnings));
  assert.is(errorsOf(spec).length, 0);
  const seen: string[] = [];
  const parsed = parseConfig(JSON.stringify(spec), 'x/config.json', { onWarning: (w, file) => seen.push(`${file} ${w.path}`) });
  assert.is(parsed.process!.args![0], 'sh');
  assert.is(seen.length, 4);
  assert.ok(seen.includes('x/config.json /vendorExtension'));
});

test('ConfigError: first line names file, path and problem; the rest are listed one per line', () => {
  const one: any = defaultSpec({ cgroupNamespace: false });
  one.process.args = [];
  const e1 = catchConfigError(() => parseConfig(JSON.stringify(one), '/b/config.json'));
  assert.is(e1.message, '/b/config.json: /process/args: must be a non-empty array');
  assert.is(e1.issues.length, 1);
  assert.is(e1.file, '/b/config.json');
  assert.instance(e1, Error);

  const three: any = defaultSpec({ cgroupNamespace: false });
  three.process.args = [];
  three.linux.namespaces.push({ type: 'pid' });
  three.mounts[0].destination = 5;
  const e3 = catchConfigError(() => parseConfig(JSON.stringify(three), 'config.json'));
  const lines = e3.message.split('\n');
  assert.is(lines.length, 3);
  assert.match(lines[0], /^config\.json: \/\S+: .+; 2 more errors:$/);
  for (const l of lines.slice(1)) assert.match(l, /^ {2}\/\S+: /);
  assert.is(e3.issues.length, 3);
});

test('loadConfig: missing bundle, a directory, bad JSON with position, BOM, empty', async () => {
  await inTempDir((dir) => {
    const missing = catchConfigError(() => loadConfig(join(dir, 'nope')));
    assert.is(missing.message, `${join(dir, 'nope', 'config.json')}: cannot read: no such file (is --bundle right?)`);

    mkdirSync(join(dir, 'isdir', 'config.json'), { recursive: true });
    assert.match(catchConfigError(() => loadConfig(join(dir, 'isdir'))).message, /config\.json: cannot read: is a directory/);

    writeFileSync(join(dir, 'config.json'), '{\n  "ociVersion": "1.0.0",\n  "root": {"path": "rootfs"},,\n}');
    assert.is(catchConfigError(() => loadConfig(dir)).message,
      `${join(dir, 'config.json')}: not valid JSON: line 3 column 30: expected a property name in double quotes, found ","`);

    writeFileSync(join(dir, 'config.json'), '\ufeff' + JSON.stringify(defaultSpec()));
    assert.is(loadConfig(dir).root!.path, 'rootfs');

    writeFileSync(join(dir, 'config.json'), '');
    assert.is(catchConfigError(() => loadConfig(dir)).message, `${join(dir, 'config.json')}: is empty`);
  });
});

test('semantic rules: namespaced sysctls are accepted with their namespace only', () => {
  const cases: [string, string, boolean][] = [
    ['net.ipv4.ping_group_range', 'network', true], ['fs.mqueue.queues_max', 'ipc', true], ['kernel.sem', 'ipc', true],
    ['kernel.domainname', 'uts', true], ['user.max_pid_namespaces', 'user', true], ['kernel.pid_max', '', false],
    ['vm.overcommit_memory', '', false], ['kernel.hostname', 'uts', false],
  ];
  for (const [key, ns, ok] of cases) {
    const spec = defaultSpec({ cgroupNamespace: false });
    spec.linux!.sysctl = { [key]: '1' };
    if (ns === 'user') {
      spec.linux!.namespaces!.push({ type: 'user' });
      spec.linux!.uidMappings = spec.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    }
    assert.is(errorsOf(spec).length === 0, ok, `${key} with its namespace: ${show(validateConfig(spec))}`);
    if (ns && ns !== 'user' && ok) {
      spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== ns);
      if (ns === 'uts') delete spec.hostname;
      const errs = errorsOf(spec);
      assert.ok(errs.some((e) => e.path === `/linux/sysctl/${key}`), `${key} without ${ns}: ${show(errs)}`);
    }
  }
});

test('the validator evaluates no ajv at run time, and is fast', () => {
  const spec = defaultSpec({ cgroupNamespace: false });
  validateConfig(spec);
  const cache = Object.keys(createRequire(import.meta.url).cache);
  assert.ok(cache.some((k) => k.endsWith('spec/generated/validate-config.cjs')), 'generated validator not loaded?');
  assert.not.ok(cache.some((k) => k.includes('/node_modules/ajv/')), `ajv was loaded: ${cache.filter((k) => k.includes('ajv')).join(', ')}`);

  for (let i = 0; i < 2000; i++) validateConfig(spec);
  const measure = (config: unknown, n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) validateConfig(config);
    return Number(process.hrtime.bigint() - t0) / 1000 / n;
  };
  const sink = kitchenSink();
  for (let i = 0; i < 500; i++) validateConfig(sink);
  const perDefault = measure(spec, 20000);
  const perSink = measure(sink, 5000);
  console.log(`  validateConfig: ${perDefault.toFixed(1)} µs (default config), ${perSink.toFixed(1)} µs (kitchen-sink config)`);
  assert.ok(perDefault < 500, `${perDefault} µs per validation`);
});

function catchConfigError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ConfigError);
    return e as ConfigError;
  }
  throw new assert.Assertion({ message: 'expected a ConfigError', generated: false, operator: 'throws', expects: 'ConfigError', actual: 'nothing' });
}

test.run();
