// tsrun's command line: runc-compatible global flags, then one command.
import { existsSync } from 'node:fs';
import { HelpRequested, parseFlags, UsageError, str, bool, type FlagSpec } from './args.js';
import { configureLog, debugStep, reportError, type LogOptions } from './log.js';
import { commands, type Command } from './commands.js';
import { writeErr, writeOut } from './output.js';
import { OCI_VERSION } from '../../spec/names.js';
import { TSRUN_VERSION as VERSION } from '../../spec/features.js';

/** As runc: a non-root caller keeps its state under $XDG_RUNTIME_DIR when that is set. */
function defaultRoot(): string {
  const xdg = process.env.XDG_RUNTIME_DIR;
  return process.geteuid!() !== 0 && xdg ? `${xdg}/tsrun` : '/run/tsrun';
}

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'root', type: 'string', default: defaultRoot() },
  { name: 'log', type: 'string' },
  { name: 'log-format', type: 'string', default: 'text' },
  { name: 'debug', type: 'boolean' },
  { name: 'systemd-cgroup', type: 'boolean' },
  { name: 'rootless', type: 'string' },
  { name: 'criu', type: 'string' },
  { name: 'version', alias: 'v', type: 'boolean' },
  { name: 'help', alias: 'h', type: 'boolean' },
];

export interface GlobalOptions {
  root: string;
  systemdCgroup: boolean;
}

function usage(): string {
  const names = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: tsrun [global flags] COMMAND [flags] [args]\n\ncommands:\n${names.join('\n')}\n\nglobal flags: --root DIR (default /run/tsrun; $XDG_RUNTIME_DIR/tsrun for non-root), --log FILE, --log-format text|json, --debug, --systemd-cgroup, --version\n`;
}

/** `tsrun COMMAND --help`: the usage line, the summary, and the flags the command parses. */
function commandUsage(name: string, command: Command, specs: FlagSpec[]): string {
  const flag = (f: FlagSpec) => {
    const names = `--${f.name}${f.alias ? `, -${f.alias}` : ''}${f.type === 'boolean' ? '' : ' VALUE'}`;
    const notes = [f.type === 'list' ? 'repeatable' : '', f.default !== undefined && f.default !== false ? `default ${JSON.stringify(f.default)}` : ''].filter(Boolean);
    return `  ${notes.length ? `${names.padEnd(28)} ${notes.join(', ')}` : names}\n`;
  };
  const line = ['usage: tsrun', name, specs.length ? '[flags]' : '', command.args].filter(Boolean).join(' ');
  return `${line}\n\n${command.summary}\n${specs.length ? `\nflags:\n${specs.map(flag).join('')}` : ''}`;
}

async function main(argv: string[]): Promise<number> {
  // Global flags end at the first positional argument (the command).
  const cmdIndex = argv.findIndex((a, i) => !a.startsWith('-') && !takesValue(argv[i - 1]));
  const globalArgs = cmdIndex < 0 ? argv : argv.slice(0, cmdIndex);
  // Before the strict parse: a bad global flag is then reported in --log too, where the engine
  // (containerd's shim, podman) reads runtime errors from.
  configureLog(earlyLogOptions(globalArgs));
  const { flags } = parseFlags(globalArgs, GLOBAL_FLAGS);
  const format = str(flags, 'log-format');
  if (format !== 'text' && format !== 'json') throw new UsageError(`invalid --log-format "${format}": use text or json`);
  configureLog({ file: str(flags, 'log'), format, debug: bool(flags, 'debug') });
  if (bool(flags, 'version')) {
    writeOut(`tsrun version ${VERSION}\nspec: ${OCI_VERSION}\nnode: ${process.version}\n`);
    return 0;
  }
  if (cmdIndex < 0 || bool(flags, 'help')) {
    writeOut(usage());
    return cmdIndex < 0 && !bool(flags, 'help') ? 2 : 0;
  }
  const systemdCgroup = bool(flags, 'systemd-cgroup');
  if (systemdCgroup && !existsSync('/run/systemd/system')) {
    throw new UsageError('--systemd-cgroup: systemd is not running on this host (no /run/systemd/system)');
  }
  const name = argv[cmdIndex];
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}" (tsrun --help lists them)`);
  const global: GlobalOptions = { root: str(flags, 'root')!, systemdCgroup };
  debugStep(`${name}: tsrun loaded`);
  try {
    return await command.run(argv.slice(cmdIndex + 1), global);
  } catch (e) {
    if (!(e instanceof HelpRequested)) throw e;
    writeOut(commandUsage(name, command, e.specs));
    return 0;
  }
}

/** --log and --log-format as far as they can be read from arguments that may not parse. */
function earlyLogOptions(globalArgs: string[]): LogOptions {
  const value = (name: string): string | undefined => {
    let found: string | undefined;
    globalArgs.forEach((arg, i) => {
      const m = /^--?([^=]+)(?:=(.*))?$/.exec(arg);
      if (m?.[1] === name) found = m[2] ?? globalArgs[i + 1];
    });
    return found;
  };
  return { file: value('log'), format: value('log-format') === 'json' ? 'json' : 'text', debug: false };
}

function takesValue(flag: string | undefined): boolean {
  if (!flag || !flag.startsWith('-') || flag.includes('=')) return false;
  const name = flag.replace(/^--?/, '');
  return GLOBAL_FLAGS.some((f) => (f.name === name || f.alias === name) && f.type !== 'boolean');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error;
    reportError(e?.message ?? String(err));
    if (process.env.TSRUN_DEBUG_STACK) writeErr(`${e?.stack}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);

