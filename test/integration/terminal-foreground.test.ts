// process.terminal without --console-socket: `tsrun run` / `tsrun exec -t` in the foreground
// receive the pty themselves and proxy the caller's terminal. The caller's terminal here is the pty
// util-linux `script` makes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, TSRUN, cgroupDirs } from '../support/containers.js';
import type { Spec } from '../../spec/types.js';
import { underScript, processesInCgroups } from './terminal-support.js';

const t = suite('terminal-foreground');
let sb: Sandbox;
t.before.each(() => {
  sb = new Sandbox();
});
t.after.each(() => sb.cleanup());

const PROMPT = /\/ # /;

function tsrunCmd(args: string[]): string {
  return [TSRUN, '--root', sb.root, ...args].map((a) => `'${a}'`).join(' ');
}

function terminalBundle(args: string[], edit: (s: Spec) => void = () => {}): string {
  return sb.bundle(args, (s) => {
    s.process!.terminal = true;
    edit(s);
  });
}

t('run: interactive shell through the caller terminal, consoleSize, exit code, terminal restored', async () => {
  const id = sb.id();
  const bundle = terminalBundle(['sh'], (s) => {
    s.process!.consoleSize = { height: 33, width: 77 };
  });
  const before = join(sb.dir, 'stty-before');
  const after = join(sb.dir, 'stty-after');
  const cmd = `stty -g > ${before}; ${tsrunCmd(['run', '--bundle', bundle, id])}; code=$?; stty -g > ${after}; echo "tsrun-exit=$code"; exit $code`;
  const r = await underScript(cmd, async ({ write, waitFor }) => {
    await waitFor(PROMPT);
    write('echo "sum=$((40+2))"; tty; stty size; exit 7\n');
    await waitFor(/tsrun-exit=\d+/);
  });
  assert.is(r.code, 7, r.output);
  assert.match(r.output, /\r\nsum=42\r\n/, 'input reaches the shell, output comes back');
  assert.match(r.output, /\r\n\/dev\/pts\/\d+\r\n/, 'the shell is on a pty');
  assert.match(r.output, /\r\n33 77\r\n/, 'stty size = process.consoleSize');
  assert.match(r.output, 'tsrun-exit=7');
  const { readFileSync } = await import('node:fs');
  assert.is(readFileSync(after, 'utf8'), readFileSync(before, 'utf8'), 'the caller terminal settings are restored');
  assert.not.ok(existsSync(join(sb.root, id)), 'foreground run deletes the container');
  assert.equal(processesInCgroups(sb.suffix), []);
  assert.equal(cgroupDirs(`tsrun-test-${sb.suffix}`), []);
});

t('run: raw mode passes control characters to the container (Ctrl-C interrupts inside, not tsrun)', async () => {
  const id = sb.id();
  const cmd = tsrunCmd(['run', '--bundle', terminalBundle(['sh']), id]);
  const r = await underScript(cmd, async ({ write, waitFor }) => {
    await waitFor(PROMPT);
    write('sleep 30\n');
    await new Promise((res) => setTimeout(res, 300));
    write('\x03'); // ^C: SIGINT for the container's foreground job only
    await waitFor(/\^C\r\n\/ # /);
    write('echo "still""-here"; exit 4\n');
  });
  assert.is(r.code, 4, r.output);
  assert.match(r.output, /\r\nstill-here\r\n/, 'the shell survived, sleep was interrupted');
});

t('run: without consoleSize the pty takes the caller window size', async () => {
  const id = sb.id();
  const cmd = `stty rows 21 cols 91; ${tsrunCmd(['run', '--bundle', terminalBundle(['sh', '-c', 'stty size']), id])}`;
  const r = await underScript(cmd, async () => {});
  assert.is(r.code, 0, r.output);
  assert.match(r.output, /21 91/, 'set before the process starts (it asks at once)');

  const running = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '100']), running]).code, 0);
  const e = await underScript(`stty rows 23 cols 87; ${tsrunCmd(['exec', '-t', running, 'stty', 'size'])}`, async () => {});
  assert.is(e.code, 0, e.output);
  assert.match(e.output, /23 87/, 'exec -t too');
});

t('run: a resize of the caller terminal (SIGWINCH) reaches the container', async () => {
  const id = sb.id();
  // A background job resizes the caller terminal while tsrun is in the foreground.
  const cmd = `stty rows 20 cols 80; (sleep 1; stty rows 50 cols 132) < /dev/tty & ${tsrunCmd(['run', '--bundle', terminalBundle(['sh']), id])}`;
  const r = await underScript(cmd, async ({ write, waitFor }) => {
    await waitFor(PROMPT);
    write('stty size\n');
    await waitFor(/\r\n20 80\r\n/);
    await new Promise((res) => setTimeout(res, 2000));
    write('stty size; exit 0\n');
  });
  assert.is(r.code, 0, r.output);
  assert.match(r.output, /\r\n50 132\r\n/, r.output);
});

t('exec -t in the foreground: pty, caller input, exit code; the container keeps running', async () => {
  const id = sb.id();
  assert.is(sb.tsrun(['run', '-d', '--bundle', sb.bundle(['sleep', '100']), id]).code, 0);
  const cmd = `stty rows 25 cols 100; ${tsrunCmd(['exec', '-t', id, 'sh'])}`;
  const r = await underScript(cmd, async ({ write, waitFor }) => {
    await waitFor(PROMPT);
    write('tty; stty size; echo x > /dev/tty && echo "ctty""-ok"; exit 6\n');
  });
  assert.is(r.code, 6, r.output);
  assert.match(r.output, /\r\n\/dev\/pts\/\d+\r\n/);
  assert.match(r.output, /\r\n25 100\r\n/);
  assert.match(r.output, /\r\nctty-ok\r\n/);
  assert.is(JSON.parse(sb.tsrun(['state', id]).stdout).status, 'running');
});

t('run with a terminal and no tty on the caller side: output still arrives, exit code kept', () => {
  const id = sb.id();
  const r = sb.tsrun(['run', '--bundle', terminalBundle(['sh', '-c', 'tty; echo out; exit 9']), id]);
  assert.is(r.code, 9, r.stderr);
  assert.match(r.stdout, /^\/dev\/pts\/\d+\r\nout\r\n$/);
  assert.not.ok(existsSync(join(sb.root, id)));
});

t.run();
