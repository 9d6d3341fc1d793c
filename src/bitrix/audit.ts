/**
 * JSONL audit of every call: one line per HTTP request and per batch sub-command.
 * Fields: `ts` (ISO), `portal`, `method`, `risk` (catalog), `status` (HTTP; sub-commands inherit the batch's),
 * `ok`, `code` (error code), `ms` (duration), `keys` (top-level parameter names only — never values), `via`
 * (`batch:<key>` for sub-commands), `attempt`. Files are created with mode 0600; every line is redacted.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { redact } from './redact.js';

/** One audit line. */
export interface AuditRecord {
  ts: string;
  portal: string;
  method: string;
  risk: 'read' | 'write' | 'destructive';
  status: number;
  ok: boolean;
  code?: string;
  ms: number;
  keys: string[];
  via?: string;
  attempt?: number;
}

/** Where audit lines go. */
export interface AuditSink {
  write(rec: AuditRecord): void;
  close(): Promise<void>;
}

/** Parameter names of a call (top level; for positional params their indexes). Values are never kept. */
export function paramKeys(params: unknown): string[] {
  if (Array.isArray(params)) return params.map((_, i) => String(i));
  if (params && typeof params === 'object') return Object.keys(params);
  return [];
}

/** Appends JSONL lines to a file (the composition root passes `<data dir>/audit/calls.jsonl`). */
export class FileAudit implements AuditSink {
  readonly path: string;
  private stream: WriteStream | null = null;

  /** @param path the JSONL file; its directory is created on the first write */
  constructor(path: string) {
    this.path = path;
  }

  write(rec: AuditRecord): void {
    if (!this.stream) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 });
      this.stream.on('error', () => {});
    }
    this.stream.write(`${redact(JSON.stringify(rec))}\n`);
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }
}

/** Keeps records in memory (tests). */
export class MemoryAudit implements AuditSink {
  readonly records: AuditRecord[] = [];
  write(rec: AuditRecord): void {
    this.records.push(JSON.parse(redact(JSON.stringify(rec))));
  }
  async close(): Promise<void> {}
}
