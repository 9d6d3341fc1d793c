/**
 * The sandbox portal's snapshot file (`<dataDir>/portal.ndjson`): encoding and reading. Not a Bitrix24 behaviour.
 */
import type { Row } from './store.js';

const CHUNK = 2000;

/**
 * Snapshot file format (NDJSON, so a 1,000,000-deal portal never needs one giant JSON string): line 1 is the
 * state without table rows; every further line is `{"t": table, "g": generic?, "rows": [...]}` with ≤ 2,000 rows.
 * The file holds webhook codes and tokens, so it is written with mode 0600.
 */
export function encodeSnapshot(s: Record<string, any>): Buffer {
  const parts: Buffer[] = [];
  const head = { ...s, tables: {} as Record<string, unknown>, generic: {} as Record<string, unknown> };
  for (const [n, t] of Object.entries<any>(s.tables)) head.tables[n] = { nextId: t.nextId };
  for (const [n, t] of Object.entries<any>(s.generic)) head.generic[n] = { nextId: t.nextId };
  parts.push(Buffer.from(JSON.stringify(head) + '\n'));
  const emit = (name: string, generic: boolean, rows: Row[]) => {
    for (let i = 0; i < rows.length; i += CHUNK) {
      parts.push(Buffer.from(JSON.stringify({ t: name, g: generic, rows: rows.slice(i, i + CHUNK) }) + '\n'));
    }
  };
  for (const [n, t] of Object.entries<any>(s.tables)) emit(n, false, t.rows);
  for (const [n, t] of Object.entries<any>(s.generic)) emit(n, true, t.rows);
  return Buffer.concat(parts);
}

/** Reads a snapshot written by {@link encodeSnapshot}. @throws on a malformed file */
export function readSnapshot(buf: Buffer): Record<string, any> {
  let pos = buf.indexOf(10);
  if (pos < 0) pos = buf.length;
  const head = JSON.parse(buf.subarray(0, pos).toString('utf8'));
  for (const t of Object.values<any>(head.tables)) t.rows = [];
  for (const t of Object.values<any>(head.generic ?? {})) t.rows = [];
  head.generic ??= {};
  let start = pos + 1;
  while (start < buf.length) {
    let end = buf.indexOf(10, start);
    if (end < 0) end = buf.length;
    if (end > start) {
      const line = JSON.parse(buf.subarray(start, end).toString('utf8'));
      const bag = line.g ? head.generic : head.tables;
      bag[line.t] ??= { nextId: 1, rows: [] };
      const rows = bag[line.t].rows as Row[];
      for (const r of line.rows) rows.push(r);
    }
    start = end + 1;
  }
  return head;
}
