/**
 * `npm run bench`: runs every benchmark part in its own process, one after the other, and prints their figures.
 * Parts: bench/startup.bench.ts (CLI start-up), bench/client.bench.ts (issue 4), bench/auth.bench.ts (webhook vs OAuth per-call latency),
 * bench/pipeline.bench.ts (issue 5), bench/sync.bench.ts (issue 6), bench/chat.bench.ts (issue 7), bench/scale.bench.ts (issue 12: serve on
 * several processes), bench/scale-limiter.bench.ts (issue 12: one limiter per portal across processes), bench/cost.bench.ts (issue 15:
 * the cost estimate of a run paced by the operating budget vs its real time). A missing part is
 * skipped; a failing part fails the run after the others ran.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const parts = ['startup', 'client', 'auth', 'pipeline', 'sync', 'chat', 'scale', 'scale-limiter', 'cost'];
const only = process.argv.slice(2);
let failed = 0;
for (const part of parts) {
  if (only.length && !only.includes(part)) continue;
  const file = join(import.meta.dirname, `${part}.bench.ts`);
  if (!existsSync(file)) continue;
  console.log(`\n=== bench: ${part} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`bench ${part} failed with exit code ${r.status}`);
    failed++;
  }
}
process.exitCode = failed ? 1 : 0;
