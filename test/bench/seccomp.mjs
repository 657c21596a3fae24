#!/usr/bin/env node
// Seccomp compiler benchmark: compile time of the default (Docker/containerd) profile, program size,
// and how many jumps a decision takes (static longest path, and measured over every syscall number
// of the x86_64 and x32 tables in the cBPF VM).
// Usage: node test/bench/seccomp.mjs [--rounds N] [--profile FILE]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const top = new URL('../../', import.meta.url);
const { compileSeccomp, programShape, runFilter, AUDIT_ARCH } = await import(new URL('runtime/seccomp/index.ts', top).href);
const { values: opts } = parseArgs({ options: {
  rounds: { type: 'string', default: '200' },
  profile: { type: 'string', default: new URL('test/fixtures/seccomp/default.json', top).pathname },
} });
const profile = JSON.parse(readFileSync(opts.profile, 'utf8'));
const rounds = Number(opts.rounds);

let t0 = performance.now();
let compiled = compileSeccomp(profile, 'x64');
const firstMs = performance.now() - t0;
const times = [];
for (let i = 0; i < rounds; i++) {
  t0 = performance.now();
  compiled = compileSeccomp(profile, 'x64');
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const shape = programShape(compiled.filter);

const tables = ['x86_64', 'x32'].map((t) => JSON.parse(readFileSync(new URL(`runtime/seccomp/tables/${t}.json`, top), 'utf8')));
let worst = 0, sum = 0, count = 0;
for (const table of tables) {
  for (const nr of Object.values(table)) {
    const { jumps } = runFilter(compiled.filter, { nr, arch: AUDIT_ARCH.X86_64, args: [] });
    worst = Math.max(worst, jumps);
    sum += jumps;
    count++;
  }
}
const names = profile.syscalls.reduce((n, r) => n + r.names.length, 0);
console.log(`profile: ${opts.profile} (${profile.syscalls.length} rules, ${names} names)`);
console.log(`compile: first ${firstMs.toFixed(2)} ms (cold), median ${times[times.length >> 1].toFixed(3)} ms, p90 ${times[Math.floor(times.length * 0.9)].toFixed(3)} ms over ${rounds} rounds`);
console.log(`program: ${shape.instructions} instructions (${compiled.filter.length} bytes), flags 0x${compiled.flags.toString(16)}`);
console.log(`jumps: longest path ${shape.maxJumps} (${shape.maxSteps} instructions, through argument checks);`);
console.log(`       per syscall number (no args, ${count} numbers): max ${worst}, mean ${(sum / count).toFixed(1)}`);
