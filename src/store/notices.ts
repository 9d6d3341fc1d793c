/**
 * Job notices between `serve` processes on one PostgreSQL: `LISTEN`/`NOTIFY` on one channel, so that a process
 * waiting for a job learns of its end, and an idle worker of a new job, without polling the queue's tables
 * (https://www.postgresql.org/docs/current/sql-notify.html). Notices are hints: PostgreSQL drops them while the
 * listening connection is down, so every waiter still reads the job's state now and then (src/store/boss.ts).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The channel every b24flow process listens on. */
const CHANNEL = 'b24flow_jobs';

/**
 * A notice: a job was `sent` to a queue (with its singleton key, if any), a send was refused because a job with the
 * singleton key is already `held` (queued or active), or a job of a queue is `done` (completed, failed or retried).
 */
export type JobNotice =
  | { kind: 'sent' | 'held'; queue: string; key?: string }
  | { kind: 'done'; queue: string; id: string };

/**
 * Encodes a notice as the NOTIFY payload, after the sender's id (`<origin>|sent|<queue>|<key>` /
 * `<origin>|done|<queue>|<id>`; names hold no `|`).
 */
function encode(origin: string, n: JobNotice): string {
  return `${origin}|${n.kind === 'done' ? `done|${n.queue}|${n.id}` : `${n.kind}|${n.queue}|${n.key ?? ''}`}`;
}

/** Decodes a payload of {@link encode}: its sender and the notice; undefined for anything else. */
function decode(payload: string | undefined): { origin: string; notice: JobNotice } | undefined {
  const [origin, kind, queue, rest] = (payload ?? '').split('|');
  if (!origin || !queue) return undefined;
  if (kind === 'sent' || kind === 'held') return { origin, notice: { kind, queue, ...(rest ? { key: rest } : {}) } };
  if (kind === 'done' && rest) return { origin, notice: { kind, queue, id: rest } };
  return undefined;
}

/**
 * One listening connection per process. Notices sent by this process reach its own listeners at once (without the
 * round trip through PostgreSQL); all notices go to the other processes through NOTIFY. A dropped connection is
 * reopened after 1 s; what was notified meanwhile is lost (see module doc).
 */
export class JobNotices {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly listeners = new Set<(n: JobNotice) => void>();
  private reconnect: NodeJS.Timeout | undefined;
  /** This object's id in payloads: its own notices come back through LISTEN and are skipped (delivered when sent). */
  private readonly origin = randomBytes(6).toString('hex');

  private constructor(
    private readonly url: string,
    private readonly onError?: (message: string) => void,
  ) {}

  /**
   * Connects and listens.
   * @throws Error from `pg` when the database cannot be reached
   */
  static async open(url: string, onError?: (message: string) => void): Promise<JobNotices> {
    const n = new JobNotices(url, onError);
    await n.connect();
    return n;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'b24flow-notices' });
    client.on('notification', (m) => {
      const got = m.channel === CHANNEL ? decode(m.payload) : undefined;
      if (got && got.origin !== this.origin) this.deliver(got.notice);
    });
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => {});
      if (this.closed) return;
      this.onError?.(`job notices: connection lost${err ? ` (${err.message})` : ''}; reconnecting`);
      this.reconnect = setTimeout(() => this.connect().catch((e: Error) => lost(e)), 1000);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
  }

  private deliver(n: JobNotice): void {
    for (const l of this.listeners) l(n);
  }

  /** Calls `listener` for every notice (this process's and the others'); returns the unsubscribe function. */
  on(listener: (n: JobNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Tells this process at once and, unless `localOnly`, the others through NOTIFY; a failed NOTIFY is reported, never
   * thrown.
   */
  notify(n: JobNotice, localOnly = false): void {
    this.deliver(n);
    if (localOnly) return;
    this.client?.query('SELECT pg_notify($1, $2)', [CHANNEL, encode(this.origin, n)]).catch((err: Error) => {
      this.onError?.(`job notices: cannot notify (${err.message})`);
    });
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnect);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
