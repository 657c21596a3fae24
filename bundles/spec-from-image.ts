// config.json for a bundle made from an image: tsrun's default spec, with what the image config says
// about the process (Entrypoint + Cmd, Env, WorkingDir, User) and its Labels / ExposedPorts /
// StopSignal kept as annotations (runtime-spec has no place for ports), as umoci does.
import { defaultSpec } from '../spec/defaults.js';
import type { Spec } from '../spec/types.js';
import type { ImageConfigFile } from './image-source.js';
import { resolveImageUser } from './image-user.js';

export interface SpecFromImageOptions {
  /** Reads a file of the image's rootfs, resolving symlinks inside it; null when absent. */
  readRootfsFile: (path: string) => Buffer | null;
  warn?: (message: string) => void;
  /** Extra annotations (image ref, digests). */
  annotations?: Record<string, string>;
}

export function mergeEnv(base: string[], overrides: string[]): string[] {
  const out = [...base];
  for (const kv of overrides) {
    const name = kv.includes('=') ? kv.slice(0, kv.indexOf('=')) : kv;
    const i = out.findIndex((e) => e === name || e.startsWith(`${name}=`));
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

export function specFromImage(image: ImageConfigFile, opts: SpecFromImageOptions): Spec {
  const spec = defaultSpec();
  const c = image.config ?? {};
  const proc = spec.process!;
  proc.terminal = false;
  const args = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (args.length) proc.args = args;
  else opts.warn?.(`image has neither Entrypoint nor Cmd; config.json runs "${proc.args?.join(' ')}"`);
  proc.env = mergeEnv(proc.env ?? [], c.Env ?? []);
  proc.cwd = c.WorkingDir || '/';
  const user = resolveImageUser(c.User, opts.readRootfsFile);
  proc.user = { ...proc.user, ...user };
  // The image's rootfs is the container's own copy (or a writable overlay): writable, as umoci makes it.
  spec.root = { path: 'rootfs', readonly: false };

  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.Labels ?? {})) annotations[k] = String(v);
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) {
    annotations['org.opencontainers.image.exposedPorts'] = Object.keys(c.ExposedPorts).join(',');
  }
  if (c.StopSignal) annotations['org.opencontainers.image.stopSignal'] = c.StopSignal;
  if (image.architecture) annotations['org.opencontainers.image.architecture'] = image.architecture;
  if (image.os) annotations['org.opencontainers.image.os'] = image.os;
  if (image.author) annotations['org.opencontainers.image.author'] = image.author;
  if (image.created) annotations['org.opencontainers.image.created'] = image.created;
  Object.assign(annotations, opts.annotations ?? {});
  if (Object.keys(annotations).length) spec.annotations = annotations;
  return spec;
}
