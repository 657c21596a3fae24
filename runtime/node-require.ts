// A synchronous `require`, for what is loaded only when used (koffi, node:child_process). Under tsx
// (ESM: the tests) it is made with createRequire; the CLI bundle swaps this module for its own
// `require` (runtime/build.mjs), because loading node:module costs every command ~1.5 ms under the
// fork flags (it brings in Node's ESM loader, compiled without its code cache).
import { createRequire } from 'node:module';

export const nodeRequire: NodeJS.Require = createRequire(import.meta.url);
