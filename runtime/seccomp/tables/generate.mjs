#!/usr/bin/env node
// Generates the syscall tables (name -> number) used by the seccomp compiler:
//   x86_64.json, i386.json, x32.json, aarch64.json, arm.json  (+ provenance.json)
//
// Sources, both produced from the Linux kernel's own tables:
//  1. The kernel UAPI headers shipped by Debian (always read; evaluated with the C preprocessor):
//       linux-libc-dev              /usr/include/x86_64-linux-gnu/asm/unistd_{64,32,x32}.h
//       linux-libc-dev-arm64-cross  /usr/aarch64-linux-gnu/include/asm/unistd.h
//       linux-libc-dev-armhf-cross  /usr/arm-linux-gnueabihf/include/asm/unistd.h (EABI)
//  2. Optionally (--hrw DIR) a checkout of github.com/hrw/syscalls-table, whose data/tables/syscalls-*
//     files are made from a newer kernel's `make headers_install`; they add syscalls newer than the
//     Debian headers. Any name present in both sources must have the same number, or this fails.
//
// Usage: node runtime/seccomp/tables/generate.mjs [--hrw DIR]
// x32 numbers include __X32_SYSCALL_BIT (0x40000000), as the kernel sees them in seccomp_data.nr.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const outDir = fileURLToPath(new URL('.', import.meta.url));

const HEADER_SOURCES = {
  x86_64: { pkg: 'linux-libc-dev', args: ['-include', 'asm/unistd_64.h'] },
  i386: { pkg: 'linux-libc-dev', args: ['-include', 'asm/unistd_32.h'] },
  x32: { pkg: 'linux-libc-dev', args: ['-D__ILP32__', '-include', 'asm/unistd.h'] },
  aarch64: {
    pkg: 'linux-libc-dev-arm64-cross',
    args: ['-nostdinc', '-I', '/usr/aarch64-linux-gnu/include', '-D__aarch64__', '-include', 'asm/unistd.h'],
  },
  arm: {
    pkg: 'linux-libc-dev-armhf-cross',
    args: ['-nostdinc', '-I', '/usr/arm-linux-gnueabihf/include', '-D__arm__', '-D__ARM_EABI__', '-include', 'asm/unistd.h'],
  },
};
const HRW_NAMES = { x86_64: 'x86_64', i386: 'i386', x32: 'x32', aarch64: 'arm64', arm: 'arm' };
// Macros that look like syscalls but are counts or markers.
const NOT_SYSCALLS = new Set(['syscalls', 'arch_specific_syscall', 'BASE', 'SYSCALL_BASE', 'SYSCALL_MASK']);

function fail(msg) {
  console.error(`generate.mjs: ${msg}`);
  process.exit(1);
}

/** Evaluates the integer expressions the unistd headers use: numbers, macros, + - | <<, parentheses. */
function evaluate(expr, macros, depth = 0) {
  if (depth > 20) throw new Error(`macro recursion in ${expr}`);
  const tokens = expr.match(/0x[0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|[A-Za-z_]\w*|<<|[()+\-|]|\S/g) ?? [];
  let i = 0;
  const primary = () => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`truncated expression ${expr}`);
    if (t === '(') {
      const v = orExpr();
      if (tokens[i++] !== ')') throw new Error(`unbalanced ${expr}`);
      return v;
    }
    if (/^\d|^0x/.test(t)) return BigInt(t.replace(/[uUlL]+$/, ''));
    if (/^[A-Za-z_]/.test(t)) {
      if (!macros.has(t)) throw new Error(`unknown macro ${t} in ${expr}`);
      return evaluate(macros.get(t), macros, depth + 1);
    }
    throw new Error(`unexpected ${t} in ${expr}`);
  };
  const sum = () => {
    let v = primary();
    while (tokens[i] === '+' || tokens[i] === '-') v = tokens[i++] === '+' ? v + primary() : v - primary();
    return v;
  };
  const shift = () => {
    let v = sum();
    while (tokens[i] === '<<') { i++; v <<= sum(); }
    return v;
  };
  const orExpr = () => {
    let v = shift();
    while (tokens[i] === '|') { i++; v |= shift(); }
    return v;
  };
  const v = orExpr();
  if (i !== tokens.length) throw new Error(`trailing tokens in ${expr}`);
  return v;
}

function fromHeaders(arch) {
  const { pkg, args } = HEADER_SOURCES[arch];
  let out;
  try {
    out = execFileSync('cpp', ['-dM', ...args, '-x', 'c', '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    fail(`cpp failed for ${arch} (install gcc and ${pkg}): ${String(e.stderr || e.message).trim()}`);
  }
  const macros = new Map();
  for (const line of out.split('\n')) {
    const m = /^#define (\w+) (.+)$/.exec(line);
    if (m) macros.set(m[1], m[2].trim());
  }
  const table = new Map();
  for (const [macro, body] of macros) {
    const m = /^(?:__NR_|__ARM_NR_)(\w+)$/.exec(macro);
    if (!m || NOT_SYSCALLS.has(m[1])) continue;
    const nr = evaluate(body, macros);
    if (nr < 0n || nr > 0xffffffffn) fail(`${arch} ${m[1]} = ${nr} out of range`);
    table.set(m[1], Number(nr));
  }
  if (table.size < 200) fail(`${arch}: only ${table.size} syscalls found in the ${pkg} headers`);
  return { table, version: packageVersion(pkg) };
}

function packageVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function fromHrw(dir, arch) {
  const file = join(dir, 'data', 'tables', `syscalls-${HRW_NAMES[arch]}`);
  if (!existsSync(file)) fail(`missing ${file}`);
  const table = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [name, nr] = line.trim().split(/\s+/);
    if (name && nr !== undefined) table.set(name, Number(nr));
  }
  return table;
}

function hrwVersion(dir) {
  const file = join(dir, 'system_calls', 'linux_version.py');
  return existsSync(file) ? (/"([^"]+)"/.exec(readFileSync(file, 'utf8'))?.[1] ?? 'unknown') : 'unknown';
}

const argv = process.argv.slice(2);
const hrwIdx = argv.indexOf('--hrw');
const hrwDir = hrwIdx >= 0 ? argv[hrwIdx + 1] : undefined;
if (hrwIdx >= 0 && !hrwDir) fail('--hrw needs a directory');

const provenance = { generator: 'runtime/seccomp/tables/generate.mjs', tables: {} };
for (const arch of Object.keys(HEADER_SOURCES)) {
  const { table, version } = fromHeaders(arch);
  const sources = [`${HEADER_SOURCES[arch].pkg} ${version} (Debian kernel UAPI headers)`];
  if (hrwDir) {
    const extra = fromHrw(hrwDir, arch);
    let added = 0;
    for (const [name, nr] of extra) {
      const had = table.get(name);
      if (had !== undefined && had !== nr) fail(`${arch} ${name}: headers say ${had}, hrw/syscalls-table says ${nr}`);
      if (had === undefined) { table.set(name, nr); added++; }
    }
    sources.push(`hrw/syscalls-table data/tables/syscalls-${HRW_NAMES[arch]} (Linux ${hrwVersion(hrwDir)}): +${added} newer syscalls`);
  }
  // Aliases exist (arm: sync_file_range2 = arm_sync_file_range); a name maps to one number only.
  const sorted = Object.fromEntries([...table].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)));
  writeFileSync(join(outDir, `${arch}.json`), JSON.stringify(sorted, null, 1) + '\n');
  provenance.tables[arch] = { count: table.size, sources };
  console.log(`${arch}: ${table.size} syscalls`);
}
writeFileSync(join(outDir, 'provenance.json'), JSON.stringify(provenance, null, 2) + '\n');
