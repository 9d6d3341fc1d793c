/**
 * The seal of stored plans (src/pipeline/run/planSeal.ts) through the library API: a plan made for one principal
 * is refused to another, and the plan key is created once (0600, 32 bytes), also when processes race.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPipelineText } from '../../src/pipeline/load.js';
import { applyPlan, PlanKey, PlanRefused, planPipeline } from '../../src/pipeline/run/index.js';
import { testDir } from '../support/testRoot.js';
import { InMemoryClient } from './inMemoryClient.js';
import { testCatalog } from './testCatalog.js';

const root = join(import.meta.dirname, '..', '..');

class Deals extends InMemoryClient {
  deals = new Map<number, Record<string, unknown>>([[1, { ID: '1', TITLE: 'A', STAGE_ID: 'NEW' }]]);
  exec(method: string, params: { id?: number; fields?: Record<string, unknown> }): unknown {
    if (method === 'crm.deal.list') return [...this.deals.values()];
    if (method === 'crm.deal.get') return this.deals.get(Number(params.id));
    if (method === 'crm.deal.update') return Object.assign(this.deals.get(Number(params.id))!, params.fields) && true;
    throw Object.assign(new Error(`no ${method}`), { code: 'ERROR_METHOD_NOT_FOUND' });
  }
}

const MOVE = `name: move
steps:
  - id: deals
    method: crm.deal.list
  - id: move
    foreach: \${{ steps.deals.result }}
    method: crm.deal.update
    params: { id: "\${{ item.ID }}", fields: { STAGE_ID: WON } }
`;

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as PlanRefused,
  );

describe('plan principal', () => {
  it('only the principal that made a plan applies it', async () => {
    const dataDir = testDir('b24flow-seal-');
    const client = new Deals();
    const o = { client, catalog: testCatalog, dataDir, journal: false as const, idempotency: false as const };
    const plan = await planPipeline(loadPipelineText(MOVE, 'move.yaml'), { ...o, principal: 'chat:alice' });
    expect(plan.principal).toBe('chat:alice');
    expect(plan.id).toMatch(/^p[0-9a-f]{32}$/);

    for (const principal of ['chat:bob', 'api:0123456789ab', undefined]) {
      const err = await refusal(applyPlan(plan.id, { ...o, confirmWrite: true, principal }));
      expect(err).toBeInstanceOf(PlanRefused);
      expect(err?.reason).toBe('principal');
      expect(err?.message).toBe(`plan ${plan.id} was made by chat:alice; ask them to apply it or make your own plan`);
      expect(client.deals.get(1)!.STAGE_ID).toBe('NEW');
    }

    const r = await applyPlan(plan.id, { ...o, confirmWrite: true, principal: 'chat:alice' });
    expect(r.status).toBe('completed');
    expect(client.deals.get(1)!.STAGE_ID).toBe('WON');
  });

  it('a plan made without a principal is refused to a named one', async () => {
    const dataDir = testDir('b24flow-seal-');
    const client = new Deals();
    const o = { client, catalog: testCatalog, dataDir, journal: false as const, idempotency: false as const };
    const plan = await planPipeline(loadPipelineText(MOVE, 'move.yaml'), o);
    const err = await refusal(applyPlan(plan.id, { ...o, confirmWrite: true, principal: 'chat:mallory' }));
    expect(err?.reason).toBe('principal');
    expect(client.deals.get(1)!.STAGE_ID).toBe('NEW');
  });
});

describe('plan key', () => {
  it('is created once with mode 0600 (directory 0700), also when callers race', async () => {
    const dir = join(testDir('b24flow-seal-'), 'data');
    const file = join(dir, 'plan-key');
    const keys = await Promise.all(Array.from({ length: 8 }, () => new PlanKey(file).get()));
    expect(keys[0]).toHaveLength(32);
    for (const k of keys) expect(k.equals(keys[0]!)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['plan-key']);
    expect((await new PlanKey(file).get()).equals(keys[0]!)).toBe(true);
  });

  it('two processes racing end with one key', async () => {
    const file = join(testDir('b24flow-seal-'), 'plan-key');
    const script = `import('./dist/pipeline/run/planSeal.js').then(async (m) => {
      process.stdout.write((await new m.PlanKey(process.argv[1]).get()).toString('hex'));
    })`;
    const one = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', script, file], { cwd: root });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      });
    const keys = await Promise.all([one(), one(), one(), one()]);
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(keys).size).toBe(1);
    expect((await new PlanKey(file).get()).toString('hex')).toBe(keys[0]);
  });
});
