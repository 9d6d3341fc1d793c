/**
 * The planner evaluation harness (scripts/eval/harness.ts) over the whole request set, against a scripted
 * OpenAI-compatible endpoint answering from tests/fixtures/eval/*.json: good answers for most requests, answers
 * repaired once or twice, one that stays invalid (refused) and one without a pipeline. Asserts the scores those
 * fixtures imply, so every gate of the harness is exercised.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvalReport, formatReport, runEval } from '../../scripts/eval/harness.js';
import { REQUESTS } from '../../scripts/eval/requests.js';
import { FakeOpenAI } from './support/fakeOpenAI.js';
import { FAKE_OPENAI_KEY } from './support/setup.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'eval');
const answers = JSON.parse(readFileSync(join(dir, 'answers.json'), 'utf8')) as Record<string, unknown>;
const index = (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { requests: Record<string, string[]> })
  .requests;

describe('planner evaluation harness (scripted model, sandbox)', () => {
  const ai = new FakeOpenAI();
  let report: EvalReport;
  const score = (id: string) => report.scores.find((s) => s.id === id)!;

  beforeAll(async () => {
    await ai.start();
    report = await runEval({
      baseURL: ai.baseURL,
      model: 'fake-model',
      apiKey: FAKE_OPENAI_KEY,
      timeoutMs: 5000,
      beforeRequest: (req) => {
        const ids = index[req.id];
        if (!ids) throw new Error(`no fixture for ${req.id}`);
        ai.answer(...ids.map((id) => JSON.stringify(answers[id])));
      },
    });
    console.log(formatReport(report));
  }, 120_000);

  afterAll(async () => {
    await ai.close();
  });

  it('covers ≥ 40 requests in both languages and every class, each mapped to fixtures', () => {
    expect(REQUESTS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(REQUESTS.map((r) => r.id)).size).toBe(REQUESTS.length);
    expect(new Set(REQUESTS.map((r) => r.lang))).toEqual(new Set(['ru', 'en']));
    expect(new Set(REQUESTS.map((r) => r.class))).toEqual(
      new Set(['read', 'write', 'fanout', 'schedule', 'event', 'recipe']),
    );
    expect(Object.keys(index).sort()).toEqual(REQUESTS.map((r) => r.id).sort());
    expect(report.scores).toHaveLength(REQUESTS.length);
  });

  it('scores the good answers as passes: checked, planned against the sandbox, expected methods and fields', () => {
    const special = new Set(['fanout-1-ru', 'schedule-3-ru', 'schedule-6-en', 'write-9-en']);
    for (const s of report.scores.filter((x) => !special.has(x.id))) {
      expect(s, JSON.stringify(s)).toMatchObject({ status: 'pass', kind: 'pipeline', repairs: 0, calls: 1 });
      expect(s.packsOk && s.touchesOk && s.shapeOk && s.planned).toBe(true);
    }
    // crm.item.update on entityTypeId 2 with stageId
    expect(score('write-3-ru')).toMatchObject({ status: 'pass', touchesOk: true });
    expect(score('recipe-4-en').packs.sort()).toEqual(['comms', 'core']);
  });

  it('counts repair rounds: one for a bad foreach, two for an unknown method then a missing cron', () => {
    expect(score('fanout-1-ru')).toMatchObject({ status: 'pass', repairs: 1, calls: 2 });
    expect(score('schedule-3-ru')).toMatchObject({ status: 'pass', repairs: 2, calls: 3 });
  });

  it('scores an answer that stays invalid as refused and one without a pipeline as answer', () => {
    expect(score('schedule-6-en')).toMatchObject({ status: 'refused', kind: 'refused', repairs: 2, calls: 3 });
    expect(score('schedule-6-en').notes.join(' ')).toMatch(/cron/);
    expect(score('write-9-en')).toMatchObject({ status: 'answer', kind: 'answer', calls: 1, planned: false });
  });

  it('writes nothing to the portal in any case', () => {
    for (const s of report.scores) expect(s.written, s.id).toBe(0);
    expect(report.totals.every((t) => t.written === 0)).toBe(true);
  });

  it('keeps single-pack prompts ≤ 3,000 tokens and totals per class', () => {
    for (const s of report.scores.filter((x) => x.packs.length === 1)) {
      expect(s.tokens, s.id).toBeGreaterThan(500);
      expect(s.tokens, s.id).toBeLessThanOrEqual(3000);
    }
    const all = report.totals.find((t) => t.class === 'all')!;
    expect(all).toMatchObject({ requests: REQUESTS.length, passed: REQUESTS.length - 2 });
    const schedule = report.totals.find((t) => t.class === 'schedule')!;
    expect(schedule).toMatchObject({ requests: 7, passed: 6 });
    expect(report.totals.find((t) => t.class === 'read')!.passRate).toBe(1);
    expect(formatReport(report)).toMatch(/^class +requests +pass +rate +mean tok +max tok +writes$/m);
  });
});
