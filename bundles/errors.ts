// Errors of bundle assembly. Each message is one line a user can act on, naming the image source,
// blob or layer entry it is about.

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** The image source is unreadable or not what it claims to be (bad index, unknown tag, missing blob). */
export class ImageError extends BundleError {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/** A blob's content does not hash to its digest (or has the wrong size). */
export class DigestMismatchError extends BundleError {
  constructor(readonly what: string, readonly expected: string, readonly actual: string) {
    super(`${what}: digest mismatch: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

/** A layer entry tried to reach outside the rootfs, or a layer is malformed. */
export class LayerError extends BundleError {
  constructor(readonly layer: string, readonly entry: string | undefined, reason: string) {
    super(entry === undefined ? `layer ${layer}: ${reason}` : `layer ${layer}: entry "${entry}": ${reason}`);
    this.name = 'LayerError';
  }
}

/** The layer uses something this tsrun/Node cannot unpack (zstd on an old Node, sparse files...). */
export class UnsupportedLayerError extends LayerError {
  constructor(layer: string, entry: string | undefined, reason: string) {
    super(layer, entry, reason);
    this.name = 'UnsupportedLayerError';
  }
}
