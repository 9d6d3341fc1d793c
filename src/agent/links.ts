import { createHash, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic.js';
import { KeyedQueue } from './queue.js';

interface CodeEntry {
  hash: string;
  bitrixUserId: string;
  expiresAt: string;
}

/**
 * One-time link codes that map a chat user to a Bitrix24 user. An administrator issues a code for a Bitrix24
 * user id (`b24flow bot link-code --bitrix-user 7`) and hands it to that person, who sends `/link <code>` to the
 * bot. Only the SHA-256 of a code is stored (`<dataDir>/agent/link-codes.json`, atomic writes); a code works
 * once and expires (default 24 h).
 */
export class LinkCodes {
  private readonly file: string;
  private readonly lock = new KeyedQueue();

  constructor(dataDir: string) {
    this.file = join(dataDir, 'agent', 'link-codes.json');
  }

  /**
   * Issues a code for a Bitrix24 user.
   * @param ttlMs validity in ms (default 24 h)
   * @returns the 8-digit code (shown once; only its hash is stored)
   */
  issue(bitrixUserId: string, ttlMs = 24 * 3600_000): Promise<string> {
    if (!/^\d+$/.test(bitrixUserId)) throw new Error('the Bitrix24 user id must be a number');
    return this.lock.run('codes', async () => {
      const code = String(randomInt(10_000_000, 100_000_000));
      const entries = (await this.read()).filter((e) => Date.parse(e.expiresAt) > Date.now());
      entries.push({ hash: hash(code), bitrixUserId, expiresAt: new Date(Date.now() + ttlMs).toISOString() });
      await writeFileAtomic(this.file, JSON.stringify(entries, null, 2), 0o600);
      return code;
    });
  }

  /** Consumes a code; returns the Bitrix24 user id, or undefined when the code is unknown, used or expired. */
  redeem(code: string): Promise<string | undefined> {
    return this.lock.run('codes', async () => {
      const h = hash(code.trim());
      const entries = await this.read();
      const hit = entries.find((e) => e.hash === h && Date.parse(e.expiresAt) > Date.now());
      if (!hit) return undefined;
      await writeFileAtomic(
        this.file,
        JSON.stringify(
          entries.filter((e) => e !== hit),
          null,
          2,
        ),
        0o600,
      );
      return hit.bitrixUserId;
    });
  }

  private async read(): Promise<CodeEntry[]> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as CodeEntry[];
    } catch {
      return [];
    }
  }
}

function hash(code: string): string {
  return createHash('sha256').update(`b24flow-link:${code}`).digest('hex');
}
