// Example image: a two-layer busybox built from this machine's /bin/busybox (Debian busybox-static).
//   layer 1: a minimal root — /bin/busybox and applet symlinks, /etc/passwd, /etc/group, the usual
//            empty dirs
//   layer 2: shows layering — adds /etc/motd and /usr/share/demo/new.txt, changes /etc/hostname,
//            deletes /etc/issue and /usr/share/demo/old.txt (whiteouts), replaces /opt/app
//            (opaque dir), adds a hard link to a layer-1 file
// Used by the README demo and the tests.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBundle, type BundleMode, type BundleResult } from '../create.js';
import { tarLayer, writeOciLayout, type LayerEntry, type LayerCompression } from './oci-build.js';

export const BUSYBOX = '/bin/busybox';
export const BUSYBOX_TAG = 'latest';

export const APPLETS = [
  'sh', 'true', 'false', 'echo', 'cat', 'ls', 'sleep', 'id', 'hostname', 'mount', 'umount', 'ps', 'grep', 'wc',
  'env', 'touch', 'mkdir', 'rm', 'rmdir', 'stat', 'readlink', 'test', '[', 'uname', 'head', 'tail', 'printf',
  'kill', 'ln', 'cp', 'mv', 'chmod', 'chown', 'pwd', 'sed', 'tr', 'cut', 'find', 'date', 'dd', 'df', 'du',
  'whoami', 'nproc', 'sync', 'top', 'free', 'mknod', 'seq', 'md5sum', 'sha256sum', 'tee', 'xargs', 'yes',
  'timeout', 'nsenter', 'unshare', 'ip', 'ping', 'sort', 'uniq', 'basename', 'dirname', 'which', 'vi',
];

function dirs(names: string[], mode = 0o755): LayerEntry[] {
  return names.map((name) => ({ name: `${name}/`, type: 'directory', mode }));
}

/** The layer tars of the example image (uncompressed), bottom first. */
export async function busyboxLayers(busybox = BUSYBOX): Promise<Buffer[]> {
  let bin: Buffer;
  try {
    if (!statSync(busybox).isFile()) throw new Error('not a file');
    bin = readFileSync(busybox);
  } catch {
    throw new Error(`${busybox} is missing: apt-get install busybox-static`);
  }
  const base: LayerEntry[] = [
    ...dirs(['bin', 'etc', 'home', 'usr', 'usr/share', 'usr/share/demo', 'opt', 'opt/app', 'var', 'run', 'proc', 'sys', 'dev']),
    { name: 'root/', type: 'directory', mode: 0o700 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'bin/busybox', data: bin, mode: 0o755 },
    ...APPLETS.map((a): LayerEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\ndemo:x:1000:1000:demo:/home/demo:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { name: 'etc/group', data: 'root:x:0:\nwheel:x:10:demo\ndemo:x:1000:\nnobody:x:65534:\n' },
    { name: 'etc/hostname', data: 'busybox\n' },
    { name: 'etc/issue', data: 'tsrun busybox example, layer 1\n' },
    { name: 'home/demo/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
    { name: 'home/demo/.profile', data: 'PS1="demo$ "\n', uid: 1000, gid: 1000 },
    { name: 'usr/share/demo/old.txt', data: 'from layer 1, deleted by layer 2\n' },
    { name: 'usr/share/demo/kept.txt', data: 'from layer 1, kept\n' },
    { name: 'opt/app/v1.txt', data: 'app version 1 (hidden by the opaque dir of layer 2)\n' },
    { name: 'opt/app/lib/', type: 'directory' },
    { name: 'opt/app/lib/v1.so', data: 'not really a library\n' },
  ];
  const top: LayerEntry[] = [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.issue', data: '' },
    { name: 'etc/motd', data: 'Hello from layer 2 of the tsrun busybox example.\n' },
    { name: 'etc/hostname', data: 'busybox-layered\n' },
    { name: 'usr/share/demo/', type: 'directory' },
    { name: 'usr/share/demo/.wh.old.txt', data: '' },
    { name: 'usr/share/demo/new.txt', data: 'from layer 2\n' },
    { name: 'usr/share/demo/kept-link.txt', type: 'link', linkname: 'usr/share/demo/kept.txt' },
    { name: 'opt/app/', type: 'directory' },
    { name: 'opt/app/.wh..wh..opq', data: '' },
    { name: 'opt/app/v2.txt', data: 'app version 2\n' },
  ];
  return [await tarLayer(base), await tarLayer(top)];
}

export interface BuildOptions {
  tag?: string;
  compression?: LayerCompression | LayerCompression[];
  /** Default: sh -c 'cat /etc/motd; ls /opt/app' */
  cmd?: string[];
}

/** Build the example as an OCI image layout in `dir`. Returns the image reference "DIR:TAG". */
export async function buildBusyboxImage(dir: string, options: BuildOptions = {}): Promise<string> {
  const tag = options.tag ?? BUSYBOX_TAG;
  writeOciLayout(dir, {
    layers: await busyboxLayers(),
    compression: options.compression ?? 'gzip',
    tag,
    config: {
      Env: ['PATH=/bin', 'DEMO=layered'],
      Cmd: options.cmd ?? ['sh', '-c', 'cat /etc/motd; ls /opt/app'],
      WorkingDir: '/',
      Labels: { 'org.opencontainers.image.title': 'tsrun busybox example' },
      ExposedPorts: { '8080/tcp': {} },
    },
  });
  return `${dir}:${tag}`;
}

/** Build the example image into a temp layout and make a bundle of it at `dest`. */
export async function buildBusyboxBundle(dest: string, options: BuildOptions & { mode?: BundleMode; cacheRoot?: string } = {}): Promise<BundleResult> {
  const layout = mkdtempSync(join(tmpdir(), 'tsrun-busybox-image-'));
  try {
    const ref = await buildBusyboxImage(layout, options);
    return await createBundle({ image: ref, dest, mode: options.mode ?? 'unpack', cacheRoot: options.cacheRoot });
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
