/**
 * One process of the shared-limiter tests and bench: connects like every b24flow command (src/cli/compose.ts
 * `connect()`: the portal of `BITRIX_WEBHOOK_URL`, the store of `B24FLOW_DATABASE_URL` or the data dir, limiter
 * settings from `B24_PLAN` / `B24_CLOCK_FACTOR`), waits for the common start time `START_AT` (Unix ms), sends
 * `argv[2]` `server.time` calls, 6 at a time, and prints one JSON line: the client's counters, the lease counters
 * of the shared bucket, and its first-send / last-answer times (Unix ms).
 */
import { connect } from '../../../src/cli/compose.js';
import { closeDataStore } from '../../../src/cli/dataStore.js';

const n = Number(process.argv[2] ?? 50);
const conn = await connect({ dotenv: false, audit: false, stderr: (l) => process.stderr.write(`${l}\n`) });
const startAt = Number(process.env.START_AT ?? 0);
if (startAt > Date.now()) await new Promise((r) => setTimeout(r, startAt - Date.now()));
let sent = 0;
const t0 = Date.now();
await Promise.all(
  Array.from({ length: 6 }, async () => {
    while (sent < n) {
      sent++;
      await conn.client.call('server.time');
    }
  }),
);
const t1 = Date.now();
process.stdout.write(
  `${JSON.stringify({ ...conn.client.stats(), lease: conn.client.limiter.leaseStats(), t0, t1 })}\n`,
);
await conn.close();
await closeDataStore();
