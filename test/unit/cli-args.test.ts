import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HelpRequested, parseFlags, requireId, UsageError } from '../../runtime/cli/args.js';
import { parseSignal } from '../../runtime/container/kill.js';

const specs = [
  { name: 'bundle', alias: 'b', type: 'string' as const, default: '.' },
  { name: 'detach', alias: 'd', type: 'boolean' as const },
  { name: 'env', alias: 'e', type: 'list' as const },
];

test('--flag value, --flag=value, -f value, booleans, lists', () => {
  const a = parseFlags(['--bundle', '/b', '-d', 'id'], specs);
  assert.equal(a.flags, { bundle: '/b', detach: true });
  assert.equal(a.positional, ['id']);
  const b = parseFlags(['--bundle=/c', '--detach=false', '-e', 'A=1', '--env=B=2', 'id'], specs);
  assert.equal(b.flags, { bundle: '/c', detach: false, env: ['A=1', 'B=2'] });
  assert.equal(parseFlags(['id'], specs).flags.bundle, '.', 'default');
});

test('flags after positionals until the stop count; -- ends flags', () => {
  const a = parseFlags(['id', '-d', 'sh', '-c', 'echo'], specs, 2);
  assert.equal(a.positional, ['id', 'sh', '-c', 'echo']);
  assert.is(a.flags.detach, true);
  assert.equal(parseFlags(['--', '-d'], specs).positional, ['-d']);
});

test('unknown flags, missing values and bad booleans are usage errors', () => {
  assert.throws(() => parseFlags(['--nope'], specs), (e: Error) => e instanceof UsageError && /-nope/.test(e.message));
  assert.throws(() => parseFlags(['--bundle'], specs), /needs an argument/);
  assert.throws(() => parseFlags(['--detach=maybe'], specs), /invalid boolean/);
  assert.throws(() => requireId('start', []), /requires a container id/);
  assert.throws(() => requireId('start', ['a', 'b']), /exactly one/);
});

test('--help or -h among the flags asks for the usage, with the specs; not once the args pass through', () => {
  for (const help of ['--help', '-h', '-help']) {
    assert.throws(() => parseFlags(['x', help], specs), (e: unknown) => e instanceof HelpRequested && e.specs === specs);
  }
  assert.equal(parseFlags(['id', 'ls', '-h'], specs, 1).positional, ['id', 'ls', '-h'], "exec ID ls -h: ls's flag");
  assert.equal(parseFlags(['--', '--help'], specs).positional, ['--help']);
  const own = [{ name: 'help', alias: 'h', type: 'boolean' as const }];
  assert.is(parseFlags(['-h'], own).flags.help, true, 'a command that defines it gets it');
});

test('signals by name, SIG name, number, real-time offset', () => {
  assert.is(parseSignal('KILL'), 9);
  assert.is(parseSignal('SIGKILL'), 9);
  assert.is(parseSignal('sigterm'), 15);
  assert.is(parseSignal('9'), 9);
  assert.is(parseSignal('RTMIN+1'), 35);
  assert.is(parseSignal('SIGRTMAX'), 64);
  assert.throws(() => parseSignal('NOPE'), (e: unknown) => e instanceof UsageError);
  assert.throws(() => parseSignal('0'), (e: unknown) => e instanceof UsageError);
  assert.throws(() => parseSignal('65'), (e: unknown) => e instanceof UsageError);
});

test.run();
