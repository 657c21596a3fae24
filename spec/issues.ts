// One problem found in a config: where (JSON pointer, "" = the whole document) and what.
export interface ValidationIssue {
  /** JSON pointer (RFC 6901) into config.json, e.g. "/linux/namespaces/2/type". */
  path: string;
  message: string;
  /** Errors make tsrun refuse the config; warnings are reported and the config is used. */
  severity: 'error' | 'warning';
}

export function pointer(...segments: (string | number)[]): string {
  return segments.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** The value at a JSON pointer, or undefined. */
export function valueAt(doc: unknown, path: string): unknown {
  if (path === '') return doc;
  let cur: unknown = doc;
  for (const raw of path.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** "/process/args: must be a non-empty array" — the one-line form used in messages. */
export function formatIssue(issue: ValidationIssue): string {
  return `${issue.path || '/'}: ${issue.message}`;
}

/** A short, safe rendering of a config value for messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
