/**
 * JSONL audit of every call: one line per HTTP request and per batch sub-command.
 * Fields: `ts` (ISO), `portal`, `method`, `risk` (catalog), `status` (HTTP; sub-commands inherit the batch's),
 * `ok`, `code` (error code), `ms` (duration), `keys` (top-level parameter names only — never values), `via`
 * (`batch:<key>` for sub-commands), `attempt`, `tags` (who the call was made for: an approved run's request and
 * approvers, ./auditContext.ts), and `intent: true` on the line written (and synced to the kernel)
 * before a write or destructive call is sent — when it cannot be written, the call is not sent. Files are created with mode 0600; every line is redacted.
 *
 * Size cap: past `maxBytes` the file rotates (`calls.jsonl` → `calls.1.jsonl` → … → `calls.<keep>.jsonl`, the
 * oldest dropped) before the next line is written. The writer is synchronous (one `writeSync` per line, so an intent
 * line is in the file before its write is sent) and rotates by renaming between two lines, so no line is lost or
 * split; a stream-based rotator (rotating-file-stream) writes asynchronously and could not promise the intent line.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, extname } from 'node:path';
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
  /** Size cap of the current file, bytes. */
  readonly maxBytes: number;
  /** Rotated files kept (`calls.1.jsonl` … `calls.<keep>.jsonl`). */
  readonly keep: number;
  private fd: number | null = null;

  /**
   * @param path the JSONL file; its directory is created on the first write
   * @param o `maxBytes` (default 100 MiB) and `keep` (rotated files kept, default 5)
   */
  constructor(path: string, o: { maxBytes?: number; keep?: number } = {}) {
    this.path = path;
    this.maxBytes = o.maxBytes ?? 100 * 1024 * 1024;
    this.keep = Math.max(1, o.keep ?? 5);
  }

  /** The descriptor of the current file: reopened when another writer (a sink of another client) rotated it. */
  private current(): number {
    if (this.fd !== null) {
      let moved = true;
      try {
        moved = statSync(this.path).ino !== fstatSync(this.fd).ino;
      } catch {}
      if (!moved) return this.fd;
      closeSync(this.fd);
      this.fd = null;
    }
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    this.fd = openSync(this.path, 'a', 0o600);
    return this.fd;
  }

  /** The name of rotated file `i` (`calls.jsonl` → `calls.<i>.jsonl`). */
  rotatedPath(i: number): string {
    const ext = extname(this.path);
    return `${this.path.slice(0, this.path.length - ext.length)}.${i}${ext}`;
  }

  /** Shifts the rotated files up by one (the oldest is replaced) and moves the current file to `.1`. */
  private rotate(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    for (let i = this.keep - 1; i >= 1; i--) {
      try {
        renameSync(this.rotatedPath(i), this.rotatedPath(i + 1));
      } catch {}
    }
    renameSync(this.path, this.rotatedPath(1));
  }

  private append(rec: AuditRecord): void {
    const line = `${redact(JSON.stringify(rec))}\n`;
    let fd = this.current();
    const size = fstatSync(fd).size;
    if (size > 0 && size + Buffer.byteLength(line) > this.maxBytes) {
      try {
        this.rotate();
      } catch {
        // a file that cannot be rotated keeps growing rather than losing lines
      }
      fd = this.current();
    }
    writeSync(fd, line);
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

/**
 * The sub-commands that ran in a batch answer, for their own audit lines: method, ok, error code, duration (ms, from
 * `result_time`), parameter names and the command's key. Commands the portal did not run (halted) are left out.
 * Source: api-reference/how-to-call-rest-api/batch.html (`result`, `result_error`, `result_time`).
 */
export function batchSubCalls(
  body: { result?: { result?: unknown; result_error?: unknown; result_time?: unknown } } | undefined,
  methods: Record<string, string> | undefined,
  keys: Record<string, string[]> | undefined,
): { method: string; ok: boolean; code?: string; ms: number; keys: string[]; key: string }[] {
  if (!methods) return [];
  const errs = body?.result?.result_error as Record<string, { error?: unknown }> | undefined;
  const results = body?.result?.result;
  const times = body?.result?.result_time as Record<string, { duration?: unknown }> | undefined;
  const out: { method: string; ok: boolean; code?: string; ms: number; keys: string[]; key: string }[] = [];
  for (const [k, m] of Object.entries(methods)) {
    const e = errs && typeof errs === 'object' ? errs[k] : undefined;
    if (!e && !(results && typeof results === 'object' && k in results)) continue;
    const d = times && typeof times === 'object' ? times[k]?.duration : undefined;
    out.push({
      method: m,
      ok: !e,
      ...(e ? { code: String(e.error ?? '') } : {}),
      ms: typeof d === 'number' ? d * 1000 : 0,
      keys: keys?.[k] ?? [],
      key: k,
    });
  }
  return out;
}
