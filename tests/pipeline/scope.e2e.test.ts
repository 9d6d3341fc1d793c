/**
 * `b24flow check` with a portal configured reads the granted scopes (`scope` method, over HTTP) and reports a method
 * whose scope the webhook lacks; app-only methods are refused for a webhook.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
beforeAll(async () => {
  p = await startPortal({ size: 5 });
});
afterAll(async () => {
  await p?.close();
});

describe('check against a configured portal', () => {
  it('reports missing scopes and app-only methods at their lines', async () => {
    const { webhookUrl } = await p.sb.admin.webhook({ scopes: ['crm'] });
    const env = { ...p.env, BITRIX_WEBHOOK_URL: webhookUrl };
    const r = await cli(['check', 'pipelines/stale-deals.yaml', 'pipelines/offline-events-bootstrap.yaml'], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      'pipelines/stale-deals.yaml:23:13: tasks.task.add needs scope "task", granted: crm (field /steps/1/method) [scope]',
    );
    expect(r.stdout).toMatch(
      /offline-events-bootstrap\.yaml:\d+:13: event\.bind works only with an application .*\[app-auth\]/,
    );
    const full = await cli(['check', 'pipelines/stale-deals.yaml'], p.env);
    expect(full.code).toBe(0);
  });
});
