// OCI hooks: run.ts runs them from the tsrun process, sync.ts from inside the forked init.
export { HookError, describeFailure, type HookFailure, type HookKind } from './errors.js';
export { OUTPUT_LIMIT } from './command.js';
export { hookStateJson, hookStateBuffer } from './state.js';
export { runHook, runHooks, runHooksLogged, runHooksCollecting } from './run.js';
export { runHookSync } from './sync.js';
