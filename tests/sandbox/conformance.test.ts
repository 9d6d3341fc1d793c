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
 * Families whose handlers this suite holds at 100 % (tasks, messenger, system, events, workgroups, departments,
 * the CRM timeline). CRM entities, user fields and users are held by the overall floor until they match the docs.
 */
const FULL =
  /^(v3 )?(tasks\.task(\.field)?|task\.(checklistitem|commentitem)|im(\.|$)|imbot|app|access|event|events|feature|method|methods|profile|scope|server|sonet_group|department|crm\.activity|crm\.timeline)/;
/**
 * Cases that differ for a reason outside the sandbox: the docs' portal has a custom task user field
 * (UF_NEW_TASKS_FIELD); the crm.activity.list example prints `time.operating_reset_at` as a date string where every
 * other page has a Unix time.
 */
const KNOWN = new Set([
  'tasks.task.getfields#1',
  'tasks.task.getfields#2',
  'crm.activity.list#1',
  'crm.activity.list#2',
]);
/** The overall match floor (issue 13 asks 95 %; raise this as the CRM and user handlers follow the docs). */
const FLOOR = 0.75;

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

  it('tasks, messenger, system, events, workgroups and departments match the documented shapes', () => {
    const bad = results.filter((r) => !r.ok && !KNOWN.has(r.case.id) && FULL.test(famOf(r)));
    expect(failures(bad), 'mismatching documented examples').toBe('');
  });

  it(`matches at least ${FLOOR * 100} % of all documented examples`, () => {
    const ok = results.filter((r) => r.ok).length;
    expect(ok / results.length).toBeGreaterThanOrEqual(FLOOR);
  });
});

function famOf(r: CaseResult): string {
  return (r.case.v3 ? 'v3 ' : '') + r.case.family;
}
