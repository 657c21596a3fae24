// The test image for the client tests: busybox (Debian busybox-static) as an OCI image layout,
// tarred into an OCI archive for `ctr images import` / `podman load`.
//
// Not `buildBusyboxImage` as is: its layer 2 hard-links a file of layer 1, and containerd 1.6's
// layer applier (overlayfs snapshotter) refuses cross-layer hard links ("link ...: no such file or
// directory"). So: layer 1 of the example, then a small layer of our own with a whiteout.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxLayers } from '../../bundles/examples/busybox.js';
import { tarLayer, writeOciLayout } from '../../bundles/examples/oci-build.js';

export const IMAGE_TAG = 'latest';

/** Write an OCI archive (a tar of an OCI layout) at `archive`. Default command: `sh -c 'echo hi'`. */
export async function buildClientImage(archive: string): Promise<void> {
  const [base] = await busyboxLayers();
  const top = await tarLayer([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.issue', data: '' },
    { name: 'etc/motd', data: 'tsrun client test image\n' },
  ]);
  const layout = mkdtempSync(join(tmpdir(), 'tsrun-test-layout-'));
  try {
    writeOciLayout(layout, {
      layers: [base, top],
      compression: 'gzip',
      tag: IMAGE_TAG,
      config: { Env: ['PATH=/bin'], Cmd: ['sh', '-c', 'echo hi'], WorkingDir: '/' },
    });
    execFileSync('tar', ['-cf', archive, '-C', layout, '.']);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
