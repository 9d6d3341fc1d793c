/**
 * Docs conformance: every documented request example of a method the sandbox emulates (the committed fixture
 * tests/fixtures/conformance/cases.json, generated from bitrix24/b24restdocs by `npm run conformance:extract`) is
 * replayed over real HTTP and the answer's shape (envelope, keys, JSON types; not values) compared with the
 * documented answer. Prints the per-family table; the match rate must reach the floor below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaseResult, failures, familyTable, loadCases, replayAll } from '../../scripts/conformance/replay.js';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';

/**
 * Every family is held at 100 % but for these cases, which differ for a reason outside the sandbox:
 * - the docs' portal has a custom task user field (UF_NEW_TASKS_FIELD);
 * - the crm.activity.list example prints `time.operating_reset_at` as a date string where every other page has a
 *   Unix time;
 * - the `crm.<entity>.userfield.list` example filters MULTIPLE=Y, MANDATORY=Y and shows a `crm_status` (contacts:
 *   `address`) field of the docs' portal; the only such field here is the string field the page's own add example
 *   makes, whose SETTINGS have no ENTITY_TYPE / SHOW_MAP;
 * - crm-item-add.md documents one answer (a deal's) for all its requests: the smart-process request (add#3/#4) is
 *   compared with the deal's keys (leadId, isNew, utmSource, …);
 * - crm-item-list.md's second request selects `id, title, createdTime` but the page's one answer is the first
 *   request's (lead name, stage, amount).
 */
const KNOWN = new Set([
  'tasks.task.getfields#1',
  'tasks.task.getfields#2',
  'crm.activity.list#1',
  'crm.activity.list#2',
  ...['deal', 'lead', 'contact', 'company'].flatMap((e) => [`crm.${e}.userfield.list#1`, `crm.${e}.userfield.list#2`]),
  'crm.item.add#3',
  'crm.item.add#4',
  'crm.item.list#3',
  'crm.item.list#4',
]);
/** The overall match floor (issue 13 asks 95 %). */
const FLOOR = 0.95;

let sb: SandboxHandle;
let results: CaseResult[];
beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 300 });
  const tokens = await sb.oauthApp.install();
  results = await replayAll({ webhookUrl: sb.webhookUrl, baseUrl: sb.baseUrl, accessToken: tokens.access_token });
  process.stdout.write(`\ndocs conformance (${results.length} documented examples)\n${familyTable(results)}\n`);
}, 120_000);
afterAll(() => sb.close());

describe('docs conformance', () => {
  it('replays at least 300 documented examples', () => {
    expect(loadCases().length).toBeGreaterThanOrEqual(300);
    expect(results.length).toBe(loadCases().length);
  });

  it('every family matches the documented shapes, apart from the known docs differences', () => {
    const bad = results.filter((r) => !r.ok && !KNOWN.has(r.case.id));
    expect(failures(bad), 'mismatching documented examples').toBe('');
  });

  it(`matches at least ${FLOOR * 100} % of all documented examples`, () => {
    const ok = results.filter((r) => r.ok).length;
    expect(ok / results.length).toBeGreaterThanOrEqual(FLOOR);
  });
});
