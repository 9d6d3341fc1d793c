/**
 * JSONL audit of every call: one line per HTTP request and per batch sub-command.
 * Fields: `ts` (ISO), `portal`, `method`, `risk` (catalog), `status` (HTTP; sub-commands inherit the batch's),
 * `ok`, `code` (error code), `ms` (duration), `keys` (top-level parameter names only — never values), `via`
 * (`batch:<key>` for sub-commands), `attempt`, `tags` (who the call was made for: an approved run's request and
 * approvers, ./auditContext.ts), and `intent: true` on the line written (and synced to the kernel)
 * before a write or destructive call is sent — when it cannot be written, the call is not sent. Files are created with mode 0600; every line is redacted.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
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
  /** True on the line written before a write is sent (its outcome follows in a later line). */
  intent?: boolean;
  /** Who the call was made for (an approved run: `approval`, `approvedBy`, `pipeline`), see ./auditContext.ts. */
  tags?: Record<string, string>;
}

/** Where audit lines go. */
export interface AuditSink {
  /** Records a finished call (best effort: a failure to write is not the call's failure). */
  write(rec: AuditRecord): void;
  /**
   * Records, before it is sent, that a write is about to be sent: the line is on disk when this returns.
   * @throws when the line cannot be written — the client then does not send the write
   */
  intent?(rec: AuditRecord): void;
  close(): Promise<void>;
}

/** Parameter names of a call (top level; for positional params their indexes). Values are never kept. */
export function paramKeys(params: unknown): string[] {
  if (Array.isArray(params)) return params.map((_, i) => String(i));
  if (params && typeof params === 'object') return Object.keys(params);
  return [];
}

/**
 * Appends JSONL lines to a file (the composition root passes `<data dir>/audit/calls.jsonl`), synchronously through
 * one append-mode descriptor: an intent line is on disk before the write it announces is sent.
 */
export class FileAudit implements AuditSink {
  readonly path: string;
  private fd: number | null = null;

  /** @param path the JSONL file; its directory is created on the first write */
  constructor(path: string) {
    this.path = path;
  }

  private append(rec: AuditRecord): void {
    if (this.fd === null) {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      this.fd = openSync(this.path, 'a', 0o600);
    }
    writeSync(this.fd, `${redact(JSON.stringify(rec))}\n`);
  }

  write(rec: AuditRecord): void {
    try {
      this.append(rec);
    } catch {
      // best effort for finished calls; writes are guarded by intent()
    }
  }

  intent(rec: AuditRecord): void {
    try {
      this.append(rec);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new AuditUnavailable(
        `the audit log ${this.path} cannot be written (${e.code ?? e.message}); the ${rec.method} write was not sent`,
      );
    }
  }

  close(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) closeSync(fd);
    return Promise.resolve();
  }
}

/** A write refused because its audit line could not be written first (nothing was sent). */
export class AuditUnavailable extends Error {
  override name = 'AuditUnavailable';
}

/** Keeps records in memory (tests). */
export class MemoryAudit implements AuditSink {
  readonly records: AuditRecord[] = [];
  write(rec: AuditRecord): void {
    this.records.push(JSON.parse(redact(JSON.stringify(rec))));
  }
  intent(rec: AuditRecord): void {
    this.write(rec);
  }
  async close(): Promise<void> {}
}
