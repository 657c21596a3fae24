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

test.run();
