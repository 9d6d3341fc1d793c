/**
 * `b24flow pipelines save|list|show|versions|diff|export|disable|enable` (real processes, a fresh store) and `serve` running
 * a saved pipeline's schedule beside its (empty) folder; serve's console lists a pipeline saved after it started.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { SqlJournal } from '../../src/store/journal.js';
import { cli, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { startServe } from '../triggers/processes.js';

const report = (description: string, cron = '0 8 * * 1') => `name: open-deals-count
description: ${description}
packs: [core]
triggers:
  - schedule: { cron: "${cron}" }
steps:
  - id: deals
    method: crm.item.list
    params: { entityTypeId: 2, filter: { closed: "N" }, select: [id] }
outputs:
  open: \${{ size(steps.deals.result) }}
`;

describe('saved pipelines', () => {
  let p: TestPortal;
  beforeAll(async () => {
    p = await startPortal();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('saves versions (same text: no new one), lists, shows, diffs, refuses what does not check, disables', async () => {
    const f = join(p.dataDir, 'open-deals-count.yaml');
    writeFileSync(f, report('Open deals, counted'));
    expect((await cli(['pipelines', 'save', f], p.env)).stdout).toBe('saved open-deals-count version 1\n');
    expect((await cli(['pipelines', 'save', f], p.env)).stdout).toMatch(/version 1 has the same text; nothing saved/);
    writeFileSync(f, report('Open deals, counted every Monday'));
    expect((await cli(['pipelines', 'save', f, '--author', 'bitrix:7'], p.env)).stdout).toBe(
      'saved open-deals-count version 2\n',
    );
    const versions = await cli(['pipelines', 'versions', 'open-deals-count'], p.env);
    expect(
      versions.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['v1', 'v2']);
    expect(versions.stdout).toContain('bitrix:7');
    const diff = await cli(['pipelines', 'diff', 'open-deals-count'], p.env);
    expect(diff.stdout).toContain('-description: Open deals, counted\n');
    expect(diff.stdout).toContain('+description: Open deals, counted every Monday\n');
    expect((await cli(['pipelines', 'show', 'open-deals-count', '1'], p.env)).stdout).toBe(
      report('Open deals, counted'),
    );
    const bad = join(p.dataDir, 'bad.yaml');
    writeFileSync(bad, report('x').replace('crm.item.list', 'crm.nothing.here'));
    const refused = await cli(['pipelines', 'save', bad], p.env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/crm\.nothing\.here/);
    expect((await cli(['pipelines', 'versions', 'open-deals-count'], p.env)).stdout.trim().split('\n')).toHaveLength(2);
    expect((await cli(['pipelines', 'disable', 'open-deals-count'], p.env)).stdout).toBe('open-deals-count disabled\n');
    expect((await cli(['pipelines', 'list'], p.env)).stdout).toMatch(/open-deals-count\s+v2 .* disabled/);
    expect((await cli(['pipelines', 'enable', 'open-deals-count'], p.env)).stdout).toBe('open-deals-count enabled\n');
    // export into a pipelines folder: the saved text as is, then it checks clean there; an existing file is kept
    const folder = join(p.dataDir, 'exported');
    const ex = await cli(['pipelines', 'export', 'open-deals-count', '1', '--dir', folder], p.env);
    expect(ex.code, ex.stderr).toBe(0);
    expect(readFileSync(join(folder, 'open-deals-count.yaml'), 'utf8')).toBe(report('Open deals, counted'));
    expect((await cli(['check', join(folder, 'open-deals-count.yaml')], p.env)).code).toBe(0);
    const again = await cli(['pipelines', 'export', 'open-deals-count', '--dir', folder], p.env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists; nothing written/);
    expect(readFileSync(join(folder, 'open-deals-count.yaml'), 'utf8')).toBe(report('Open deals, counted'));
    expect((await cli(['pipelines', 'export', 'open-deals-count', '--dir', folder, '--force'], p.env)).code).toBe(0);
    expect(readFileSync(join(folder, 'open-deals-count.yaml'), 'utf8')).toBe(
      report('Open deals, counted every Monday'),
    );
  });

  it('serve runs an enabled saved pipeline beside its folder', async () => {
    const f = join(p.dataDir, 'fast.yaml');
    writeFileSync(f, report('every 2 s', '*/2 * * * * *').replace('open-deals-count', 'open-deals-fast'));
    expect((await cli(['pipelines', 'save', f], p.env)).code).toBe(0);
    const dir = join(p.dataDir, 'empty-folder');
    mkdirSync(dir, { recursive: true });
    const serve = await startServe(['--pipelines', dir], p.env);
    try {
      const store = await openStore({ dataDir: p.dataDir });
      let runs: Awaited<ReturnType<SqlJournal['list']>> = [];
      for (let i = 0; i < 100 && !runs.some((r) => r.status !== 'running'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        runs = await new SqlJournal(store).list({ pipeline: 'open-deals-fast' });
      }
      const done = runs.find((r) => r.status !== 'running');
      expect(done?.status).toBe('completed');
      expect(done?.pipeline.file).toMatch(/^store:open-deals-fast@v1$/);
      await store.close();
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });

  it("serve's console lists a pipeline saved after serve started, then its new version", async () => {
    const dir = join(p.dataDir, 'empty-folder-console');
    mkdirSync(dir, { recursive: true });
    const key = 'console-test-key-not-a-secret';
    const serve = await startServe(['--pipelines', dir], {
      ...p.env,
      HTTP_API_TOKENS: `${key}@1`,
      B24FLOW_SAVED_POLL_MS: '200',
    });
    try {
      const login = await fetch(`${serve.url}/console/login`, {
        method: 'POST',
        body: new URLSearchParams({ key }),
        redirect: 'manual',
      });
      expect(login.status).toBe(303);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const page = async (path: string) => (await fetch(`${serve.url}${path}`, { headers: { cookie } })).text();
      expect(await page('/console')).not.toContain('late-report');
      const f = join(p.dataDir, 'late-report.yaml');
      writeFileSync(f, report('Saved while serve runs').replace('open-deals-count', 'late-report'));
      expect((await cli(['pipelines', 'save', f], p.env)).code).toBe(0);
      // the page once it shows `text` (up to 10 s), else as it last was
      const pageWith = async (path: string, text: string) => {
        let body = '';
        for (let i = 0; i < 100 && !body.includes(text); i++) {
          await new Promise((r) => setTimeout(r, 100));
          body = await page(path);
        }
        return body;
      };
      expect(await pageWith('/console', 'late-report')).toContain('late-report');
      expect(await page('/console/pipelines/late-report')).toContain('store:late-report@v1');
      // a new version replaces the listed one (its file names the version)
      writeFileSync(f, report('Saved again').replace('open-deals-count', 'late-report'));
      expect((await cli(['pipelines', 'save', f], p.env)).code).toBe(0);
      const detail = await pageWith('/console/pipelines/late-report', 'store:late-report@v2');
      expect(detail).toContain('store:late-report@v2');
      expect(detail).toContain('Saved again');
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });
});
