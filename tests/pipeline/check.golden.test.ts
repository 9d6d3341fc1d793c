/**
 * Golden tests for `b24flow check`, actionlint style: every `tests/fixtures/check/<rule>[.<variant>].yaml` is
 * checked by the real CLI (`node bin/b24flow.js check <relative path>`, cwd = repo root) and its stdout must equal
 * `<rule>[.<variant>].out` byte for byte; the exit code must be 2 when the expected output holds an error finding,
 * else 0. Every rule registered in src/pipeline/check/rules/index.ts has a `<rule>.yaml` whose golden shows a
 * `[<rule>]` finding, so a new rule without a golden case fails this suite; `load.yaml` covers schema errors.
 *
 * Rewrite the goldens after an intended output change, then review the diff:
 *   B24FLOW_UPDATE_GOLDEN=1 npx vitest run tests/pipeline/check.golden.test.ts
 *
 * Portal facts: by default no portal is configured (BITRIX_WEBHOOK_URL, B24_CLIENT_ID, B24_CLIENT_SECRET are empty,
 * so `.env` cannot fill them in). A fixture with the comment line `# golden-portal: webhook scopes=crm,user` is
 * checked with a webhook of the in-process sandbox portal granted exactly those scopes; `# golden-portal: oauth`
 * with the sandbox's OAuth application. The CLI then reads the granted scopes over HTTP like from a real portal.
 *
 * Normalisation: none. Paths are relative and the check output holds no dates, timings or portal URLs; should that
 * change, normalise here and say so.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rules } from '../../src/pipeline/check/rules/index.js';
import { appEnv, cli, root, startPortal, type TestPortal } from './helpers.js';

const dir = 'tests/fixtures/check';
const update = process.env.B24FLOW_UPDATE_GOLDEN === '1';

/** Fixture names without `.yaml`, e.g. `scope`, `destructive-unconfirmable.chat` (sub-directories are helpers). */
const cases = readdirSync(join(root, dir))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

type PortalSpec = { auth: 'webhook'; scopes: string[] } | { auth: 'oauth' };

/** The fixture's `# golden-portal:` line, if any. */
function portalSpec(name: string): PortalSpec | undefined {
  const text = readFileSync(join(root, dir, `${name}.yaml`), 'utf8');
  const m = /^# golden-portal: (webhook|oauth)(?: scopes=([\w,]+))?[ \t]*$/m.exec(text);
  if (!m) return undefined;
  return m[1] === 'oauth' ? { auth: 'oauth' } : { auth: 'webhook', scopes: (m[2] ?? '').split(',').filter(Boolean) };
}

const noPortal: NodeJS.ProcessEnv = {
  ...process.env,
  BITRIX_WEBHOOK_URL: '',
  B24_CLIENT_ID: '',
  B24_CLIENT_SECRET: '',
};

let portal: TestPortal | undefined;
beforeAll(async () => {
  if (cases.some((c) => portalSpec(c))) portal = await startPortal({ size: 5 });
});
afterAll(async () => {
  await portal?.close();
});

async function envFor(spec: PortalSpec | undefined): Promise<NodeJS.ProcessEnv> {
  if (!spec) return noPortal;
  const p = portal!;
  if (spec.auth === 'oauth') return appEnv(p);
  const { webhookUrl } = await p.sb.admin.webhook({ scopes: spec.scopes });
  return { ...p.env, BITRIX_WEBHOOK_URL: webhookUrl };
}

/** A finding line that is an error: `file:line:col: message` without `warning: `. */
const ERROR_LINE = /^\S+:\d+:\d+: (?!warning: |info: )/m;

describe('b24flow check goldens (tests/fixtures/check)', () => {
  it.each(cases)('%s', async (name) => {
    const file = `${dir}/${name}.yaml`;
    const golden = join(root, dir, `${name}.out`);
    const r = await cli(['check', file], await envFor(portalSpec(name)));
    // stderr carries only the error count (a portal case that could not read its scopes would say so here)
    expect(r.stderr).toMatch(/^(b24flow: \d+ errors? found\n)?$/);
    if (update) writeFileSync(golden, r.stdout);
    const expected = readFileSync(golden, 'utf8');
    expect(r.stdout).toBe(expected);
    expect(r.code).toBe(ERROR_LINE.test(expected) ? 2 : 0);
  });

  it('has a <rule>.yaml golden showing a [<rule>] finding for every registered rule, and a load case', () => {
    const names = [...rules.map((r) => r.name), 'load'];
    expect(rules.length).toBeGreaterThanOrEqual(19);
    const missing = names.filter((n) => {
      if (!cases.includes(n)) return true;
      const out = readFileSync(join(root, dir, `${n}.out`), 'utf8');
      const tag = n === 'load' ? '[schema]' : `[${n}]`;
      return !out.split('\n').some((l) => l.startsWith(`${dir}/${n}.yaml:`) && l.endsWith(tag));
    });
    expect(missing).toEqual([]);
  });
});
