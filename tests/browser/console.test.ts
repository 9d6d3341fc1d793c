/**
 * The web console in a real browser (Debian's Chromium driven by playwright-core; `.ci/run` installs it) against a
 * real `b24flow serve` (the shipped weekly-duplicates pipeline, its schedule sped up) and the sandbox portal: sign in
 * with an API key bound to a Bitrix24 user, approve the pending request of that user's contacts, see the run finish
 * and open its page with the step timeline; a one-time link signs in once; nothing is served without a session.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlConsoleSessions } from '../../src/adapters/console/sessions.js';
import { SqlApprovalStore } from '../../src/store/approvals.js';
import { openStore, type Store } from '../../src/store/index.js';
import { addContact, contact, fastWeeklyDuplicates, plainUsers } from '../approvals/helpers.js';
import { startPortal, type TestPortal } from '../pipeline/helpers.js';
import { type ServeProcess, startServe } from '../triggers/processes.js';

const executablePath = process.env.B24FLOW_CHROMIUM ?? '/usr/bin/chromium';
const KEY = 'console-key-0123456789abcdef';
const KEY_RO = 'console-readonly-0123456789ab';

describe('web console (real browser, real serve)', () => {
  let browser: Browser;
  let p: TestPortal;
  let serve: ServeProcess;
  let store: Store;
  let a: string;
  let dup: number;
  let orig: number;

  beforeAll(async () => {
    if (!existsSync(executablePath))
      throw new Error(`no browser at ${executablePath}: apt-get install -y chromium (or set B24FLOW_CHROMIUM)`);
    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    p = await startPortal();
    [a] = (await plainUsers(p.client, 1)) as [string];
    orig = await addContact(p.client, 'Vera Orig', '+7 905 700 0001', a);
    dup = await addContact(p.client, 'Vera Dup', '+7 905 700 0001', a);
    const dir = fastWeeklyDuplicates(p.dataDir);
    serve = await startServe(['--pipelines', dir], { ...p.env, HTTP_API_TOKENS: `${KEY}@${a},${KEY_RO}` });
    store = await openStore({ dataDir: p.dataDir });
  }, 60_000);
  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await browser?.close();
    await store?.close();
    await p?.close();
  });

  it('serves nothing without a session: pages go to sign-in, forms and fragments answer 401', async () => {
    for (const path of [
      '/console',
      '/console/runs',
      '/console/approvals',
      '/console/dlq',
      '/console/health',
      '/console/pipelines/weekly-duplicates',
    ]) {
      const r = await fetch(`${serve.url}${path}`, { redirect: 'manual' });
      expect(r.status, path).toBe(303);
      expect(r.headers.get('location')).toBe('/console/login');
    }
    for (const path of [
      '/console/approvals/a000000000000000000000000/approve',
      '/console/dlq/x/drop',
      '/console/logout',
    ]) {
      const r = await fetch(`${serve.url}${path}`, { method: 'POST', body: 'csrf=x', redirect: 'manual' });
      expect(r.status, path).toBe(401);
    }
    expect((await fetch(`${serve.url}/console/runs/r1/timeline`)).status).toBe(401);
    const page = await browser.newPage();
    await page.goto(`${serve.url}/console/approvals`);
    expect(page.url()).toBe(`${serve.url}/console/login`);
    expect(await page.content()).not.toContain('weekly-duplicates');
    await page.fill('input[name=key]', 'wrong-key');
    await page.click('button');
    expect(await page.textContent('main')).toContain('Wrong API key');
    await page.close();
  });

  it('signs in, approves the pending request, sees the run finish and its step timeline', async () => {
    const approvals = new SqlApprovalStore(store);
    let pending = await approvals.list({ state: ['pending'] });
    for (let i = 0; i < 200 && !pending.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pending = await approvals.list({ state: ['pending'] });
    }
    const req = pending.find((x) => x.request.owner === a)!.request;
    const page = await browser.newPage();
    await page.goto(`${serve.url}/console/login`);
    await page.fill('input[name=key]', KEY);
    await page.click('button');
    expect(page.url()).toBe(`${serve.url}/console`);
    expect(await page.textContent('nav')).toContain(`#${a}`);
    expect(await page.textContent('main')).toContain('weekly-duplicates');
    await page.click('text=approval request(s) pending');
    await page.click(`a[href="/console/approvals/${req.id}"]`);
    expect(await page.textContent('#lines')).toContain(`#${dup}`);
    await page.click('#approve');
    await page.waitForSelector('#applied-run');
    expect(await page.textContent('main')).toContain('applied');
    expect((await contact(p.client, dup)).comments).toMatch(new RegExp(`^Duplicate of contact #${orig} `));
    await page.click('#applied-run');
    await page.waitForSelector('tr.step[data-step="mark"]');
    expect(await page.textContent('#timeline')).toContain('completed');
    expect(await page.locator('tr.step').count()).toBe(2);
    expect(await page.textContent('main')).toContain(`approved by #${a}`);
    // the pipeline page: its compiled steps and next schedule times
    await page.goto(`${serve.url}/console/pipelines/weekly-duplicates`);
    expect(await page.locator('.node').count()).toBe(2);
    expect(await page.textContent('main')).toMatch(/Next: \d{4}-/);
    await page.close();
  });

  it('a read-only key looks but cannot decide; a one-time link signs in once', async () => {
    const page = await browser.newPage();
    await page.goto(`${serve.url}/console/login`);
    await page.fill('input[name=key]', KEY_RO);
    await page.click('button');
    expect(await page.textContent('nav')).toContain('read-only');
    await page.close();
    const token = await new SqlConsoleSessions(store).issueLink(a);
    const ctx = await browser.newContext();
    const viaLink = await ctx.newPage();
    await viaLink.goto(`${serve.url}/console/link/${token}`);
    expect(viaLink.url()).toBe(`${serve.url}/console`);
    expect(await viaLink.textContent('nav')).toContain(`#${a}`);
    // a form without the session's CSRF token (another site posting with the cookie) does nothing
    const forged = await viaLink.request.post(`${serve.url}/console/dlq/x/drop`, { form: { csrf: 'forged' } });
    expect(forged.status()).toBe(403);
    if (process.env.B24FLOW_CONSOLE_SCREENSHOT) {
      for (const [name, path] of [
        ['overview', '/console'],
        ['approvals', '/console/approvals'],
        ['pipeline', '/console/pipelines/weekly-duplicates'],
      ]) {
        await viaLink.goto(`${serve.url}${path}`);
        await viaLink.screenshot({ path: join(process.env.B24FLOW_CONSOLE_SCREENSHOT, `${name}.png`), fullPage: true });
      }
    }
    await ctx.close();
    const again = await fetch(`${serve.url}/console/link/${token}`, { redirect: 'manual' });
    expect(again.status).toBe(401);
  });
});
