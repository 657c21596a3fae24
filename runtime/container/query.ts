// `tsrun state` and `tsrun list`.
import { CorruptStateError, type StateStore } from './store.js';
import { warn } from '../cli/log.js';
import { deriveStatus, ociState } from './status.js';
import { WrongStateError } from './errors.js';

export function containerState(store: StateStore, id: string) {
  const rec = store.read(id);
  if (!rec) throw new WrongStateError(id, 'read the state of', 'still being created');
  return ociState(rec, deriveStatus(store, rec));
}

export function listContainers(store: StateStore) {
  const out: ReturnType<typeof ociState>[] = [];
  for (const id of store.ids()) {
    try {
      const rec = store.read(id);
      if (rec) out.push(ociState(rec, deriveStatus(store, rec)));
    } catch (e) {
      if (e instanceof CorruptStateError) warn(e.message); // listed nowhere else: say so once
      // else removed meanwhile
    }
  }
  return out;
}

export function formatTable(rows: ReturnType<typeof ociState>[]): string {
  const header = ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'];
  const lines = rows.map((r) => [r.id, String(r.pid), r.status, r.bundle, r.created, r.owner]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [header, ...lines].map((l) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i] + 3))).join('')).join('\n') + '\n';
}
