// runc-compatible argument parsing: `--flag value`, `--flag=value`, boolean flags, short aliases,
// global flags before the command, command flags anywhere before `--` or the command's own args.

export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  alias?: string; // one letter, e.g. 'd'
  type: 'boolean' | 'string' | 'list';
  default?: string | boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[]>;
  positional: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `--help` or `-h` among a command's flags (unless it defines them): main.ts prints its usage from these specs. */
export class HelpRequested extends Error {
  constructor(readonly specs: FlagSpec[]) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

/**
 * Parse flags for one command. Flags may come before or between positional arguments until
 * `stopAtPositional` positional args have been seen (then the rest is passed through untouched,
 * as `exec ID cmd --flag` needs) or `--` is met.
 */
export function parseFlags(argv: string[], specs: FlagSpec[], stopAtPositional = Infinity): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.alias) byName.set(s.alias, s);
  }
  const flags: ParsedArgs['flags'] = {};
  for (const s of specs) if (s.default !== undefined) flags[s.name] = s.default;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (positional.length >= stopAtPositional) {
      positional.push(...argv.slice(i));
      break;
    }
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (!spec && (name === 'help' || name === 'h')) throw new HelpRequested(specs);
    if (!spec) throw new UsageError(`flag provided but not defined: -${name}`);
    if (spec.type === 'boolean') {
      if (eq >= 0) {
        const v = body.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`invalid boolean value "${v}" for -${name}`);
        flags[spec.name] = v === 'true';
      } else flags[spec.name] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[++i];
    }
    if (spec.type === 'list') {
      const prev = flags[spec.name];
      flags[spec.name] = Array.isArray(prev) ? [...prev, value] : [value];
    } else flags[spec.name] = value;
  }
  return { flags, positional };
}

export function str(flags: ParsedArgs['flags'], name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(flags: ParsedArgs['flags'], name: string): boolean {
  return flags[name] === true;
}

export function list(flags: ParsedArgs['flags'], name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v : [];
}

/** The container id argument: exactly one, or a usage error naming the command. */
export function requireId(command: string, positional: string[], extraAllowed = false): string {
  if (positional.length === 0) throw new UsageError(`"${command}" requires a container id`);
  if (!extraAllowed && positional.length > 1) throw new UsageError(`"${command}" takes exactly one container id, got: ${positional.join(' ')}`);
  return positional[0];
}
