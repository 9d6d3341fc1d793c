import type { PlannerLike } from '../../../src/agent/agent.js';
import type { PlannerResult } from '../../../src/agent/planner.js';
import type { AgentState } from '../../../src/agent/state.js';
import { makeAgent } from './setup.js';
import { stubEngine } from './stubEngine.js';

/**
 * A stub planner with a random model latency (0..maxDelayMs) that records, per user, the order in which their
 * messages reached the model and whether it ever saw another user's state.
 */
export function stubPlanner(maxDelayMs: number) {
  const seen = new Map<string, string[]>();
  const crossed: string[] = [];
  const active = new Set<string>();
  let overlapping = 0;
  let maxParallel = 0;
  const planner: PlannerLike = {
    available: true,
    async plan(message: string, state: AgentState): Promise<PlannerResult> {
      const [user] = message.split(' ');
      if (state.userId !== user) crossed.push(`${user} got state of ${state.userId}`);
      if (state.goals.some((g) => !g.text.startsWith(`${user} `))) crossed.push(`${user} saw a foreign goal`);
      if (active.has(state.userId)) overlapping++;
      active.add(state.userId);
      maxParallel = Math.max(maxParallel, active.size);
      await new Promise((r) => setTimeout(r, Math.random() * maxDelayMs));
      active.delete(state.userId);
      seen.set(state.userId, [...(seen.get(state.userId) ?? []), message]);
      return {
        kind: 'pipeline',
        reply: `ok ${message}`,
        json: {},
        pipeline: { steps: [{ method: 'crm.deal.add', params: { fields: { TITLE: message } } }] },
        packs: ['core'],
        attempts: 1,
      };
    },
  };
  return { planner, seen, crossed, overlapping: () => overlapping, maxParallel: () => maxParallel };
}

/** Result of {@link runConcurrentUsers}. */
export interface ConcurrencyReport {
  latenciesMs: number[];
  orderViolations: string[];
  crossed: string[];
  overlapping: number;
  /** Most users inside the model call at the same moment (1 would mean users were serialised). */
  maxParallelUsers: number;
  wrongLastPlan: string[];
  wallMs: number;
}

/**
 * `users` chat users send `messages` messages each, all at once (each user's messages in a fixed order);
 * measures the reply latency of every message and checks order and isolation.
 */
export async function runConcurrentUsers(
  users = 20,
  messages = 10,
  maxDelayMs = 10,
  mode: 'burst' | 'conversation' = 'burst',
): Promise<ConcurrencyReport> {
  const engine = stubEngine();
  const stub = stubPlanner(maxDelayMs);
  const agent = makeAgent(engine, { planner: stub.planner });
  const latencies: number[] = [];
  const replies = new Map<string, string[]>();
  const send = async (user: string, i: number) => {
    const t0 = performance.now();
    const r = await agent.handleText(user, `${user} message ${i}`);
    latencies.push(performance.now() - t0);
    replies.set(user, [...(replies.get(user) ?? []), r.text.split('\n')[0] ?? '']);
  };
  const names = Array.from({ length: users }, (_, u) => `user${u}`);
  const started = performance.now();
  if (mode === 'burst') {
    // Every message of every user submitted at once: a user's later messages wait behind their earlier ones.
    await Promise.all(names.flatMap((user) => Array.from({ length: messages }, (_, i) => send(user, i))));
  } else {
    // Each user sends the next message when the previous reply arrived.
    await Promise.all(
      names.map(async (user) => {
        for (let i = 0; i < messages; i++) await send(user, i);
      }),
    );
  }
  const wallMs = performance.now() - started;
  const orderViolations: string[] = [];
  const wrongLastPlan: string[] = [];
  for (let u = 0; u < users; u++) {
    const user = `user${u}`;
    const expected = Array.from({ length: messages }, (_, i) => `${user} message ${i}`);
    if (JSON.stringify(stub.seen.get(user)) !== JSON.stringify(expected)) orderViolations.push(`${user} model order`);
    if (JSON.stringify(replies.get(user)) !== JSON.stringify(expected.map((m) => `ok ${m}`))) {
      orderViolations.push(`${user} reply order`);
    }
    const state = await agent.store.load(user);
    if (!state.lastPlan?.summary.includes(`${user} message ${messages - 1}`)) wrongLastPlan.push(user);
    if (state.metrics.messages !== messages) wrongLastPlan.push(`${user} counted ${state.metrics.messages}`);
  }
  await agent.log.flush();
  return {
    latenciesMs: latencies,
    orderViolations,
    crossed: stub.crossed,
    overlapping: stub.overlapping(),
    maxParallelUsers: stub.maxParallel(),
    wrongLastPlan,
    wallMs,
  };
}

/** The q-quantile (0..1) of a list of numbers. */
export function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0;
}
