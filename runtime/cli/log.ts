// Logging as runc does it: `--log FILE` (default stderr), `--log-format text|json`, `--debug`.
// JSON lines are {"level","msg","time"}; containerd's shim reads the last level=error line.
import { appendFileSync } from 'node:fs';
import { writeErr } from './output.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface LogOptions {
  file?: string;
  format: 'text' | 'json';
  debug: boolean;
}

let options: LogOptions = { format: 'text', debug: false };

export function configureLog(opts: LogOptions): void {
  options = opts;
}

function line(level: LogLevel, msg: string): string {
  const time = new Date().toISOString();
  if (options.format === 'json') return JSON.stringify({ level, msg, time }) + '\n';
  return `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
}

export function log(level: LogLevel, msg: string): void {
  if (level === 'debug' && !options.debug) return;
  const text = line(level, msg);
  if (options.file) {
    try {
      appendFileSync(options.file, text);
      return;
    } catch {
      // fall through to stderr
    }
  }
  if (level !== 'error') writeErr(text);
}

export const debug = (msg: string) => log('debug', msg);
export const warn = (msg: string) => log('warning', msg);

/** --debug: a step of a command, with the time since the process started (Node's own start included). */
export function debugStep(step: string): void {
  if (options.debug) log('debug', `${step} (+${(process.uptime() * 1000).toFixed(1)} ms)`);
}

/** A fatal error: one line on stderr for the person, and a log record for the engine. */
export function reportError(msg: string): void {
  if (options.file) log('error', msg);
  writeErr(`tsrun: ${msg}\n`);
}
