// A synchronous pause for the short kernel waits (freezer, EBUSY rmdir, cgroup.procs EINVAL):
// the manager's operations are synchronous like the rest of the state machine.
const cell = new Int32Array(new SharedArrayBuffer(4));

export function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(cell, 0, 0, ms);
}
