// tmpcopyup's copy with the real kernel, between two temp directories.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, constants } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linuxSys as sys } from '../../runtime/sys/linux.js';
import { copyTree } from '../../runtime/rootfs/copy-up.js';

test('copyTree: files, dirs, symlinks (not followed), fifos; owners, modes, mtimes; the top dir\'s owner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-test-copyup-'));
  try {
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    mkdirSync(join(src, 'sub/deeper'), { recursive: true });
    mkdirSync(dst);
    writeFileSync(join(src, 'big'), Buffer.alloc(200_000, 7));
    writeFileSync(join(src, 'sub/deeper/owned'), 'x');
    chownSync(join(src, 'sub/deeper/owned'), 1000, 1001);
    chmodSync(join(src, 'sub/deeper/owned'), 0o4750);
    chmodSync(join(src, 'sub'), 0o710);
    symlinkSync('/etc/passwd', join(src, 'outside-link'));
    symlinkSync('../outside', join(src, 'sub/rel-link'));
    execFileSync('mkfifo', [join(src, 'fifo')]);
    utimesSync(join(src, 'big'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    chownSync(src, 1234, 1234);
    const from = openSync(src, constants.O_RDONLY | constants.O_DIRECTORY);
    const to = openSync(dst, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      copyTree(sys, from, to);
    } finally {
      closeSync(from);
      closeSync(to);
    }
    assert.equal(readFileSync(join(dst, 'big')), Buffer.alloc(200_000, 7));
    assert.is(lstatSync(join(dst, 'big')).mtimeMs, 1_000_000_000_000);
    const owned = lstatSync(join(dst, 'sub/deeper/owned'));
    assert.equal([owned.uid, owned.gid, owned.mode & 0o7777], [1000, 1001, 0o4750], 'owner and set-id mode kept');
    assert.is(lstatSync(join(dst, 'sub')).mode & 0o7777, 0o710);
    assert.ok(lstatSync(join(dst, 'outside-link')).isSymbolicLink(), 'a symlink is copied as a symlink');
    assert.is(readlinkSync(join(dst, 'outside-link')), '/etc/passwd');
    assert.is(readlinkSync(join(dst, 'sub/rel-link')), '../outside');
    assert.ok(lstatSync(join(dst, 'fifo')).isFIFO());
    assert.is(lstatSync(dst).uid, 1234, 'the top directory takes the source\'s owner');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
