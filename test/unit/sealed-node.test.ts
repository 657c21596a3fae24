// The sealed copy of Node (CVE-2019-5736): immutable, made once per build, stale copies removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxSys as sys } from '../../runtime/sys/linux.js';
import { removeSealedNodes, sealKey, sealNode } from '../../runtime/process/sealed-node.js';

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-seal-'));
  const binary = join(dir, 'fake-node');
  copyFileSync('/bin/true', binary);
  return { dir, binary, sealed: join(dir, 'exe') };
}

const openForWrite = (path: string) => {
  try {
    openSync(path, 'r+');
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
};

test('seal: an immutable, executable copy under its key, made once', () => {
  const { dir, binary, sealed } = scratch();
  try {
    const first = sealNode(sys, binary, sealed);
    assert.is(first.path, join(sealed, sealKey(binary), 'node'));
    assert.ok(first.created);
    assert.is(openForWrite(first.path), 'EPERM', 'root cannot open it for writing');
    assert.is(execFileSync(first.path).length, 0, 'it still runs');
    const again = sealNode(sys, binary, sealed);
    assert.equal(again, { path: first.path, created: false });
    // The key is the launcher's `stat -L -c %d-%i-%s-%Y`.
    assert.is(sealKey(binary), execFileSync('stat', ['-L', '-c', '%d-%i-%s-%Y', binary], { encoding: 'utf8' }).trim());
  } finally {
    removeSealedNodes(sys, sealed);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('seal: a replaced binary gets a new copy and the old one is removed; --remove clears all', () => {
  const { dir, binary, sealed } = scratch();
  try {
    const old = sealNode(sys, binary, sealed);
    writeFileSync(`${binary}.new`, '');
    copyFileSync('/bin/true', `${binary}.new`);
    utimesSync(`${binary}.new`, new Date(), new Date(Date.now() + 5000));
    execFileSync('mv', [`${binary}.new`, binary]);
    const fresh = sealNode(sys, binary, sealed);
    assert.is.not(fresh.path, old.path);
    assert.not.ok(existsSync(old.path), 'stale copy removed despite being immutable');
    assert.equal(readdirSync(sealed).sort(), ['.lock', sealKey(binary)]);
    removeSealedNodes(sys, sealed);
    assert.not.ok(existsSync(sealed));
  } finally {
    removeSealedNodes(sys, sealed);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('seal: concurrent first runs make one copy; the others wait and use it', async () => {
  const { dir, binary, sealed } = scratch();
  try {
    const script = `import { linuxSys } from '${process.cwd()}/runtime/sys/linux.ts'; import { sealNode } from '${process.cwd()}/runtime/process/sealed-node.ts'; console.log(sealNode(linuxSys, '${binary}', '${sealed}').created)`;
    const { spawn } = await import('node:child_process');
    const runs = await Promise.all(Array.from({ length: 4 }, () => new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('close', () => resolve(out.trim()));
    })));
    assert.equal(runs.sort(), ['false', 'false', 'false', 'true'], 'exactly one made the copy');
    assert.equal(readdirSync(sealed).sort(), ['.lock', sealKey(binary)]);
  } finally {
    removeSealedNodes(sys, sealed);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('seal: a filesystem without the immutable flag is reported once, with a marker for the launcher', () => {
  const { dir, binary } = scratch();
  try {
    // ramfs has no inode flags; mounted in a private mount namespace that ends with the command.
    const sealed = join(dir, 'ramfs');
    const script = `import { linuxSys } from '${process.cwd()}/runtime/sys/linux.ts'; import { sealNode, sealKey } from '${process.cwd()}/runtime/process/sealed-node.ts'; import { readdirSync } from 'node:fs';
try { sealNode(linuxSys, '${binary}', '${sealed}/exe'); console.log('sealed'); } catch (e) { console.log(e.name, e.code, readdirSync('${sealed}/exe').sort().join(','), sealKey('${binary}')); }`;
    const out = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mkdir -p ${sealed} && mount -t ramfs none ${sealed} && exec "$0" --import tsx --input-type=module -e "$1"`, process.execPath, script], { encoding: 'utf8' }).trim();
    const [name, code, entries, key] = out.split(' ');
    assert.is(name, 'SealError', out);
    assert.is(code, 'ENOTTY');
    assert.is(entries, `.lock,${key}.unsupported`, 'no copy left, only the marker');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
