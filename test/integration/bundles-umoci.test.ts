// Bundles from real images, compared with umoci: the busybox example image (built with tar-stream)
// and an image made by umoci itself (unpack / change / repack: its own whiteouts and hard links),
// each unpacked by `tsrun bundle --unpack`, by `--overlay` (the plan mounted here in a private
// mount namespace with unshare -m) and by `umoci unpack`; the trees must match file by file. Also
// the same image through skopeo as a docker-archive and an oci-archive, and runc running bundles.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBundle, type BundleMode } from '../../bundles/create.js';
import { buildBusyboxBundle, buildBusyboxImage } from '../../bundles/examples/busybox.js';
import { Progress } from '../../bundles/progress.js';
import { prepareRootfs, releaseRootfs, type OverlayRootfsPlan } from '../../bundles/rootfs.js';

const t = suite('bundles vs umoci, overlay mounts, runc');
let top = '';
let cache = '';
const runcRoot = () => join(top, 'runc');

t.before(() => {
  top = mkdtempSync(join(tmpdir(), 'tsrun-test-bundles-'));
  cache = join(top, 'cache');
});
t.after(() => {
  for (const id of ['tsrun-test-bundle-flat', 'tsrun-test-bundle-ovl']) {
    spawnSync('runc', ['--root', runcRoot(), 'delete', '-f', id], { stdio: 'ignore' });
  }
  rmSync(top, { recursive: true, force: true });
});

// One line per path: type, mode, owner, size, content hash, link target (dir nlink and mtimes
// are left out: overlayfs reports nlink 1 for merged dirs).
const LISTER = `
import hashlib, json, os, stat, sys
root = sys.argv[1]
out = {}
for dirpath, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(dirs + files):
        p = os.path.join(dirpath, name)
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        kind = stat.S_IFMT(st.st_mode)
        line = '%o %o %d:%d' % (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        if stat.S_ISREG(kind):
            line += ' %d %s nlink=%d' % (st.st_size, hashlib.sha256(open(p, 'rb').read()).hexdigest()[:16], st.st_nlink)
        elif stat.S_ISLNK(kind):
            line += ' -> ' + os.readlink(p)
        elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
            line += ' %d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev))
        out[rel] = line
json.dump(out, sys.stdout)
`;

function listTree(root: string): Record<string, string> {
  return JSON.parse(execFileSync('python3', ['-c', LISTER, root], { encoding: 'utf8', maxBuffer: 1 << 28 }));
}

function diffTrees(a: Record<string, string>, b: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (a[k] !== b[k]) out.push(`${k}: ${a[k] ?? '(missing)'} | ${b[k] ?? '(missing)'}`);
  }
  return out.sort();
}

/** Mount the overlay plan in a private mount namespace and list the merged tree from inside it. */
function listOverlay(plan: OverlayRootfsPlan, then = ''): Record<string, string> {
  const script = `mount -t ${plan.fstype} ${plan.source} -o "$1" "$2" && python3 -c "$3" "$2"${then ? ` && ${then}` : ''}`;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', plan.data, plan.target, LISTER], {
    encoding: 'utf8', maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`overlay mount/list failed: ${r.stderr}`);
  return JSON.parse(r.stdout.split('\n')[0]);
}

async function bundle(image: string, mode: BundleMode, name: string): Promise<string> {
  const dest = join(top, name);
  await createBundle({ image, dest, mode, cacheRoot: cache, progress: new Progress(null) });
  return dest;
}

async function overlayTree(bundleDir: string, id: string): Promise<Record<string, string>> {
  const state = join(top, `state-${id}`);
  mkdirSync(state);
  const plan = (await prepareRootfs(bundleDir, join(bundleDir, 'rootfs'), id, state))!;
  try {
    assert.ok(plan, 'an overlay bundle gives a plan');
    return listOverlay(plan);
  } finally {
    await releaseRootfs(id, state);
    assert.not.ok(existsSync(plan.cleanupDirs[0]), 'release removed the upper/work dirs');
  }
}

function umociUnpack(ref: string, name: string): string {
  const out = join(top, name);
  execFileSync('umoci', ['unpack', '--image', ref, out], { stdio: 'pipe' });
  return join(out, 'rootfs');
}

async function compareAll(ref: string, label: string): Promise<Record<string, string>> {
  const flat = listTree(join(await bundle(ref, 'unpack', `${label}-flat`), 'rootfs'));
  const umoci = listTree(umociUnpack(ref, `${label}-umoci`));
  assert.equal(diffTrees(flat, umoci), [], `${label}: tsrun --unpack differs from umoci unpack`);
  const merged = await overlayTree(await bundle(ref, 'overlay', `${label}-ovl`), `${label}-c`);
  assert.equal(diffTrees(merged, flat), [], `${label}: overlay view differs from --unpack`);
  assert.ok(Object.keys(flat).length > 10, 'a real tree was compared');
  return flat;
}

t('busybox example image: --unpack = umoci unpack = mounted --overlay', async () => {
  const ref = await buildBusyboxImage(join(top, 'bb-image'));
  const tree = await compareAll(ref, 'bb');
  assert.ok(tree['etc/motd']);
  assert.not.ok(tree['etc/issue'], 'whiteout applied');
  assert.equal(Object.keys(tree).filter((k) => k.startsWith('opt/app/')), ['opt/app/v2.txt'], 'opaque dir applied');
  assert.match(tree['usr/share/demo/kept-link.txt'], /nlink=2/);
});

t('an image made by umoci (its whiteouts, hard links, symlinks): same three ways', async () => {
  const layout = join(top, 'umoci-layout');
  const work = join(top, 'umoci-work');
  const ref = `${layout}:v1`;
  execFileSync('umoci', ['init', '--layout', layout]);
  execFileSync('umoci', ['new', '--image', ref]);
  const step = (fn: (rootfs: string) => void) => {
    rmSync(work, { recursive: true, force: true });
    execFileSync('umoci', ['unpack', '--image', ref, work], { stdio: 'pipe' });
    fn(join(work, 'rootfs'));
    execFileSync('umoci', ['repack', '--image', ref, work], { stdio: 'pipe' });
  };
  step((r) => {
    for (const d of ['bin', 'etc', 'data/deep/er', 'gone/sub', 'opaque/old']) mkdirSync(join(r, d), { recursive: true });
    copyFileSync('/bin/busybox', join(r, 'bin/busybox'));
    chmodSync(join(r, 'bin/busybox'), 0o755);
    for (const a of ['sh', 'cat', 'ls', 'echo']) symlinkSync('busybox', join(r, 'bin', a));
    writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(r, 'data/deep/er/file'), 'deep');
    writeFileSync(join(r, 'gone/sub/x'), 'x');
    writeFileSync(join(r, 'opaque/old/y'), 'y');
    writeFileSync(join(r, 'etc/setuid'), 's');
    execFileSync('chown', ['1234:5678', join(r, 'etc/setuid')]);
    chmodSync(join(r, 'etc/setuid'), 0o4711); // after chown, which clears setuid
    symlinkSync('/etc/passwd', join(r, 'etc/abs-link'));
  });
  step((r) => {
    rmSync(join(r, 'gone'), { recursive: true });
    unlinkSync(join(r, 'etc/abs-link'));
    rmSync(join(r, 'opaque'), { recursive: true });
    mkdirSync(join(r, 'opaque/new'), { recursive: true });
    writeFileSync(join(r, 'opaque/new/z'), 'z');
    linkSync(join(r, 'data/deep/er/file'), join(r, 'data/hardlink'));
    execFileSync('mkfifo', [join(r, 'data/fifo')]);
    execFileSync('mknod', [join(r, 'data/null'), 'c', '1', '3']);
  });
  step((r) => {
    writeFileSync(join(r, 'gone'), 'a file where a dir was');
    writeFileSync(join(r, 'etc/abs-link'), 're-added as a file');
  });
  const tree = await compareAll(ref, 'um');
  assert.not.ok(tree['gone/sub/x']);
  assert.match(tree.gone, /^100000 /);
  assert.match(tree['data/hardlink'], /nlink=2/);
  assert.match(tree['data/null'], /^20000 6\d\d 0:0 1:3$/);
  assert.match(tree['etc/setuid'], /^100000 4711 1234:5678 /);
});

t('docker-archive and oci-archive (made by skopeo) give the same rootfs', async () => {
  const ref = await buildBusyboxImage(join(top, 'bb2-image'), { tag: 'v2' });
  const want = listTree(join(await bundle(ref, 'unpack', 'bb2-flat'), 'rootfs'));
  const docker = join(top, 'bb2-docker.tar');
  const oci = join(top, 'bb2-oci.tar');
  execFileSync('skopeo', ['copy', '-q', `oci:${ref}`, `docker-archive:${docker}:example/busybox:v2`], { stdio: 'pipe' });
  execFileSync('skopeo', ['copy', '-q', `oci:${ref}`, `oci-archive:${oci}:v2`], { stdio: 'pipe' });
  const fromDocker = join(top, 'bb2-docker');
  await createBundle({ image: docker, tag: 'example/busybox:v2', dest: fromDocker, progress: new Progress(null) });
  assert.equal(diffTrees(listTree(join(fromDocker, 'rootfs')), want), []);
  const fromOci = join(top, 'bb2-ociarch');
  await createBundle({ image: oci, dest: fromOci, mode: 'overlay', cacheRoot: cache, progress: new Progress(null) });
  assert.equal(diffTrees(await overlayTree(fromOci, 'bb2-c'), want), []);
});

function runcRun(bundleDir: string, id: string): string {
  const r = spawnSync('runc', ['--root', runcRoot(), 'run', '--bundle', bundleDir, id], { encoding: 'utf8', timeout: 30_000 });
  spawnSync('runc', ['--root', runcRoot(), 'delete', '-f', id], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`runc run exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

t('runc runs an --unpack bundle of the example image', async () => {
  const dest = join(top, 'run-flat');
  await buildBusyboxBundle(dest, { mode: 'unpack', cmd: ['sh', '-c', 'cat /etc/motd; ls /opt/app; id -u; echo $DEMO'] });
  assert.is(runcRun(dest, 'tsrun-test-bundle-flat'), 'Hello from layer 2 of the tsrun busybox example.\nv2.txt\n0\nlayered\n');
});

t('runc runs an --overlay bundle mounted from its plan; writes land in the upper dir', async () => {
  const dest = join(top, 'run-ovl');
  await buildBusyboxBundle(dest, { mode: 'overlay', cacheRoot: cache, cmd: ['sh', '-c', 'echo hi > /written; rm /etc/motd; ls /etc'] });
  const state = join(top, 'state-run');
  mkdirSync(state);
  const plan = (await prepareRootfs(dest, join(dest, 'rootfs'), 'tsrun-test-bundle-ovl', state))!;
  try {
    const script = `mount -t overlay overlay -o "$1" "$2" && runc --root "$3" run --bundle "$4" tsrun-test-bundle-ovl; s=$?; runc --root "$3" delete -f tsrun-test-bundle-ovl 2>/dev/null; exit $s`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', plan.data, plan.target, runcRoot(), dest], { encoding: 'utf8', timeout: 30_000 });
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, 'group\nhostname\npasswd\n');
    const upper = join(plan.cleanupDirs[0], 'upper');
    assert.equal(readdirSync(upper).sort(), ['etc', 'written']);
    assert.equal(readdirSync(join(dest, 'rootfs')), [], 'nothing mounted or written on the host rootfs dir');
  } finally {
    await releaseRootfs('tsrun-test-bundle-ovl', state);
  }
});

t.run();
