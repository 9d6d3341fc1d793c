/**
 * Chat benchmarks (issue 7):
 * - prompt size: tokens (gpt-tokenizer, o200k) of the request the planner sends for the Romashka message with the
 *   lean context (routed packs only) vs a prompt carrying the full catalog;
 * - 20 concurrent chat users × 10 messages through the agent with a stub planner (0–10 ms model latency) and an
 *   in-memory engine: reply latency p50/p95/max, wall time, order and isolation checks.
 */
import { quantile, runConcurrentUsers } from '../tests/agent/support/concurrency.js';
import { measurePromptSize, ROMASHKA } from '../tests/agent/support/promptSize.js';

const m = await measurePromptSize();
console.log(`prompt size for "${ROMASHKA}" (packs: ${m.packs.join(', ')})`);
console.log(`  lean request : ${m.leanTokens} tokens (${m.leanBytes} bytes)`);
console.log(`  full catalog : ${m.fullTokens} tokens (${m.fullBytes} bytes) with every curated pack's cards`);
console.log(`  all methods  : ${m.referenceTokens} tokens with cards for all ${m.referenceMethods} documented methods`);
console.log(
  `  ratio        : ${(m.fullTokens / m.leanTokens).toFixed(1)}x smaller; target ≤ 3000 → ${m.leanTokens <= 3000 ? 'ok' : 'MISSED'}`,
);

const f = (x: number) => `${x.toFixed(1)} ms`;
let bad = m.leanTokens > 3000;
for (const mode of ['conversation', 'burst'] as const) {
  const r = await runConcurrentUsers(20, 10, 10, mode);
  console.log(
    `20 concurrent users × 10 messages, ${mode === 'burst' ? "all sent at once (latency includes the wait behind the same user's earlier messages)" : 'each waits for its reply'}; stub planner 0–10 ms, state fsynced per message`,
  );
  console.log(
    `  latency p50 ${f(quantile(r.latenciesMs, 0.5))}, p95 ${f(quantile(r.latenciesMs, 0.95))}, max ${f(Math.max(...r.latenciesMs))}`,
  );
  console.log(
    `  wall ${f(r.wallMs)}, ${((r.latenciesMs.length / r.wallMs) * 1000).toFixed(0)} messages/s, up to ${r.maxParallelUsers} users in the model at once`,
  );
  console.log(
    `  order violations ${r.orderViolations.length}, state crossings ${r.crossed.length}, overlapping per-user calls ${r.overlapping}`,
  );
  bad ||= r.orderViolations.length > 0 || r.crossed.length > 0 || r.overlapping > 0;
}
if (bad) process.exitCode = 1;
