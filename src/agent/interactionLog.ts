import { createReadStream, createWriteStream } from 'node:fs';
import { appendFile, mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { redactDeep } from '../lib/redact.js';
import { KeyedQueue } from './queue.js';
import { userFileKey } from './state.js';

/** One line of a user's interaction log. `kind` says what happened; everything is redacted before writing. */
export interface InteractionRecord {
  kind: 'message' | 'reply' | 'model' | 'plan' | 'confirm' | 'cancel' | 'run' | 'refusal' | 'error' | 'link';
  [key: string]: unknown;
}

/** Options of {@link InteractionLog}. */
export interface InteractionLogOptions {
  /** Rotate the live file when it would exceed this many bytes (default 5 MB = 5 * 1024 * 1024). */
  maxBytes?: number;
  /** Gzip archives kept per user (default 10); older ones are deleted. */
  maxArchives?: number;
}

/**
 * Per-user JSONL interaction logs under `<dataDir>/agent/logs/`: `<user>.jsonl` plus rotated archives
 * `<user>.<UTC timestamp>.jsonl.gz` (node:zlib). Every record is redacted ({@link redactDeep}) and carries
 * `ts` (UTC ISO 8601). Appends of one user are serialised; a failing write is reported to `onError` and never
 * breaks the conversation.
 */
export class InteractionLog {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly maxArchives: number;
  private readonly queue = new KeyedQueue();

  /**
   * @param dataDir b24flow data directory
   * @param onError called with a redacted message when a log write fails (default: ignore)
   */
  constructor(
    dataDir: string,
    opts: InteractionLogOptions = {},
    private readonly onError: (message: string) => void = () => {},
  ) {
    this.dir = join(dataDir, 'agent', 'logs');
    this.maxBytes = opts.maxBytes ?? 5 * 1024 * 1024;
    this.maxArchives = opts.maxArchives ?? 10;
  }

  /** Path of a user's live log file. */
  file(userId: string): string {
    return join(this.dir, `${userFileKey(userId)}.jsonl`);
  }

  /** Appends one redacted record for a user; resolves when it is on disk (or the failure was reported). */
  append(userId: string, record: InteractionRecord): Promise<void> {
    const line = `${JSON.stringify({ ts: new Date().toISOString(), user: userId, ...redactDeep(record) })}\n`;
    return this.queue.run(userId, async () => {
      try {
        await mkdir(this.dir, { recursive: true });
        const file = this.file(userId);
        const size = await stat(file).then(
          (s) => s.size,
          () => 0,
        );
        if (size > 0 && size + Buffer.byteLength(line) > this.maxBytes) await this.rotate(userId);
        await appendFile(file, line, { mode: 0o600 });
      } catch (err) {
        this.onError(`interaction log write failed: ${(err as Error).message}`);
      }
    });
  }

  /** Archives of a user, oldest first. */
  async archives(userId: string): Promise<string[]> {
    const prefix = `${userFileKey(userId)}.`;
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names
      .filter((n) => n.startsWith(prefix) && n.endsWith('.jsonl.gz'))
      .sort()
      .map((n) => join(this.dir, n));
  }

  /** Resolves when every pending append has finished. */
  flush(): Promise<void> {
    return this.queue.idle();
  }

  private async rotate(userId: string): Promise<void> {
    const file = this.file(userId);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '');
    let target = '';
    for (let i = 0; !target || (await stat(target).catch(() => null)) !== null; i++) {
      target = join(this.dir, `${userFileKey(userId)}.${stamp}-${String(i).padStart(3, '0')}.jsonl.gz`);
    }
    // Move the live file aside first so appends after a crash never land in a half-compressed file.
    const moving = `${file}.rotating`;
    await rename(file, moving);
    await pipeline(createReadStream(moving), createGzip(), createWriteStream(`${target}.tmp`, { mode: 0o600 }));
    await rename(`${target}.tmp`, target);
    await unlink(moving);
    const all = await this.archives(userId);
    for (const old of all.slice(0, Math.max(0, all.length - this.maxArchives))) await unlink(old).catch(() => {});
  }
}
