// Reading and validating config.json: the schema validator generated at build time
// (spec/compile-schemas.mjs), then the semantic checks in semantic.ts. Every problem is named by
// its JSON pointer ("/linux/namespaces/2/type") and explained in one line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import generatedValidator from './generated-validator.cjs';
import { type ValidationIssue, formatIssue, pointer, show, valueAt } from './issues.js';
import { findJsonSyntaxError } from './json-syntax.js';
import { SCHEMA_ENUMS } from './names.js';
import { semanticIssues } from './semantic.js';
import type { Spec } from './types.js';

export type { ValidationIssue } from './issues.js';
export { formatIssue } from './issues.js';

/** A config.json that cannot be used: unreadable, not JSON, or with errors (listed in `issues`). */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    /** The file, as given (usually <bundle>/config.json). */
    readonly file: string,
    /** The errors (warnings are not included); empty when the file could not be read or parsed. */
    readonly issues: ValidationIssue[],
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? ConfigError.describe(file, issues), options);
  }

  /** "<file>: /process/args: must be a non-empty array; 2 more errors:\n  /a: ...\n  /b: ..." */
  static describe(file: string, issues: ValidationIssue[]): string {
    const [first, ...rest] = issues.map(formatIssue);
    if (first === undefined) return `${file}: invalid`;
    if (rest.length === 0) return `${file}: ${first}`;
    const more = `${rest.length} more error${rest.length === 1 ? '' : 's'}`;
    return `${file}: ${first}; ${more}:\n  ${rest.join('\n  ')}`;
  }
}

export interface LoadOptions {
  /** Called once per warning (unknown property, deprecated form, ...). Default: ignore. */
  onWarning?: (issue: ValidationIssue, file: string) => void;
}

/** Every problem in a parsed config.json: schema violations, then semantic ones. */
export function validateConfig(config: unknown): ValidationIssue[] {
  const validate = generatedValidator();
  const issues = validate(config) ? [] : schemaIssues(config, validate.errors ?? []);
  const seen = new Set(issues.map((i) => `${i.path}\0${i.message}`));
  for (const issue of semanticIssues(config)) {
    const key = `${issue.path}\0${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

/** Reads, parses and validates <bundleDir>/config.json; throws ConfigError listing every error. */
export function loadConfig(bundleDir: string, options: LoadOptions = {}): Spec {
  return loadConfigFile(join(bundleDir, 'config.json'), options);
}

export function loadConfigFile(file: string, options: LoadOptions = {}): Spec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file (is --bundle right?)'
      : code === 'EACCES' ? 'permission denied'
      : code === 'EISDIR' ? 'is a directory, not a file'
      : (err as Error).message;
    throw new ConfigError(file, [], `${file}: cannot read: ${why}`, { cause: err });
  }
  return parseConfig(text, file, options);
}

/** Parses and validates config.json text; `file` only names it in messages. */
export function parseConfig(text: string, file = 'config.json', options: LoadOptions = {}): Spec {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new ConfigError(file, [], `${file}: is empty`);
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    const where = findJsonSyntaxError(text);
    const detail = where ? `line ${where.line} column ${where.column}: ${where.reason}` : (err as Error).message;
    throw new ConfigError(file, [], `${file}: not valid JSON: ${detail}`, { cause: err });
  }
  const issues = validateConfig(config);
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length) throw new ConfigError(file, errors);
  if (options.onWarning) for (const w of issues) options.onWarning(w, file);
  return config as Spec;
}

// ---- ajv errors -> issues -------------------------------------------------------------------

type AjvError = generatedValidator.GeneratedError;

const ENUM_LABELS: Record<string, string> = {
  capability: 'capability', namespaceType: 'namespace type', rlimitType: 'rlimit type',
  seccompAction: 'seccomp action', seccompOperator: 'seccomp operator', seccompArch: 'seccomp architecture',
  seccompFlag: 'seccomp flag', rootfsPropagation: 'rootfs propagation', deviceType: 'device type',
  deviceCgroupType: 'device cgroup type', schedulerPolicy: 'scheduler policy', schedulerFlag: 'scheduler flag',
  ioPriorityClass: 'I/O priority class', memoryPolicyMode: 'memory policy mode',
  memoryPolicyFlag: 'memory policy flag', personalityDomain: 'personality domain', timeClock: 'time namespace clock',
};
/** First enum value -> definition name, to name the list an enum error came from. */
const ENUM_BY_FIRST = new Map(Object.entries(SCHEMA_ENUMS).map(([name, list]) => [list[0], name]));

const PATTERN_MESSAGES: Record<string, string> = {
  '^/': 'must be an absolute path',
  '[\\s\\S]': 'must not be empty',
  '^CAP_[A-Z0-9_]+$': 'is not a capability name (CAP_ and upper-case letters, e.g. CAP_NET_ADMIN)',
  '^[^=]+=': 'must have the form NAME=value',
  '^$|^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$': 'must be a list like "0-3,7"',
  '^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$': 'must be a version like "1.2.0"',
  '^(?!\\.\\.?$)[^/:\\s]{1,15}$': 'is not a network interface name (1-15 characters, no "/", ":" or spaces)',
  '^[rwm]*$': 'must be made of "r", "w" and "m"',
  '^[1-9][0-9]*[KMGTP]B$': 'must be a page size like "2MB" or "1GB"',
  '^MB:[^\\n]*$': 'must start with "MB:" and be a single line',
  '^[^\\n]*$': 'must be a single line',
};

const INTEGER_LIMITS: Record<string, string> = {
  '65535': 'uint16', '4294967295': 'uint32', '2147483647': 'int32', '-2147483648': 'int32',
  '18446744073709552000': 'uint64', '9223372036854776000': 'int64', '-9223372036854776000': 'int64',
};

function schemaIssues(config: unknown, errors: AjvError[]): ValidationIssue[] {
  attachPropertyNames(errors);
  const out: ValidationIssue[] = [];
  const patternFailed = new Set(errors.filter((e) => e.keyword === 'pattern').map((e) => e.instancePath));
  for (const e of errors) {
    const issue = convert(config, e, patternFailed);
    if (issue) out.push(issue);
  }
  return out;
}

/**
 * A failed key check ($ref'd from propertyNames) reports the object's path only; the
 * "propertyNames" error that follows it names the key. Give the key to the errors before it.
 */
function attachPropertyNames(errors: AjvError[]): void {
  errors.forEach((outer, k) => {
    if (outer.keyword !== 'propertyNames') return;
    for (let j = k - 1; j >= 0; j--) {
      const inner = errors[j];
      if (inner.instancePath !== outer.instancePath || inner.keyword === 'propertyNames' || inner.propertyName !== undefined) break;
      inner.propertyName = outer.params.propertyName;
    }
  });
}

function convert(config: unknown, e: AjvError, patternFailed: Set<string>): ValidationIssue | undefined {
  // Errors about an object key (propertyNames) carry the key apart from the instance path.
  const path = e.propertyName !== undefined ? e.instancePath + pointer(e.propertyName) : e.instancePath;
  const value = e.propertyName !== undefined ? e.propertyName : valueAt(config, e.instancePath);
  const error = (message: string): ValidationIssue => ({ path, message, severity: 'error' });
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return { path: e.instancePath + pointer(p.missingProperty), message: 'is required', severity: 'error' };
    case 'additionalProperties':
      return { path: e.instancePath + pointer(p.additionalProperty), message: 'unknown property, ignored', severity: 'warning' };
    case 'type':
      return error(`must be ${article(p.type)}, not ${describeType(value)}`);
    case 'enum': {
      const name = ENUM_BY_FIRST.get(p.allowedValues?.[0]);
      if (name === 'capability') {
        // A name no kernel has is a typo, refused. (runc only warns; capabilities this kernel is
        // too old for are still dropped with a warning at create, as the runtime-spec asks.)
        if (patternFailed.has(e.instancePath)) return undefined;
        return error(`unknown capability ${show(value)} (see \`tsrun features\` for the known ones)`);
      }
      const list: unknown[] = p.allowedValues ?? [];
      const label = name ? ENUM_LABELS[name] ?? name : 'value';
      const choices = list.length <= 12 ? `; expected one of ${list.join(', ')}` : ` (see \`tsrun features\`)`;
      return error(`${show(value)} is not a valid ${label}${choices}`);
    }
    case 'pattern':
      return error(`${show(value)} ${PATTERN_MESSAGES[p.pattern] ?? `does not match ${p.pattern}`}`);
    case 'minimum':
    case 'maximum': {
      if (path === '/process/user/umask') {
        return error(`${show(value)} is above 0777 (511); umask is a decimal number, e.g. 18 for 022`);
      }
      const kind = INTEGER_LIMITS[String(p.limit)];
      const limit = Math.abs(p.limit) >= 1e15 ? `the ${kind ?? 'integer'} ${e.keyword}` : `${p.limit}${kind ? ` (${kind})` : ''}`;
      return error(`${show(value)} is out of range: must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${limit}`);
    }
    case 'minItems':
      return error(p.limit === 1 ? 'must be a non-empty array' : `must have at least ${p.limit} items`);
    case 'if':
    case 'propertyNames':
      return undefined; // the nested error that caused it is reported
    default:
      return error(`fails the schema rule "${e.keyword}" (${e.schemaPath})`);
  }
}

function article(type: string): string {
  return type === 'integer' || type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isInteger(value)) return `the fraction ${value}`;
  return `the ${typeof value} ${show(value)}`;
}
