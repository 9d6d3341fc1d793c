/**
 * `b24flow check`'s result cache, through the real CLI and real files: a hit prints exactly what a fresh check
 * prints; changing the pipeline, a sub-pipeline it calls, or `--items` is never answered from the cache; entries are
 * private (0700 / 0600); `--no-cache` and a configured portal neither read nor write it.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRoot } from '../support/testRoot.js';
import { cli, root, startPortal, type TestPortal } from './helpers.js';

const work = mkdtempSync(join(testRoot(), 'check-cache-'));
const cacheDir = join(work, 'cache');
const env = {
  ...process.env,
  B24FLOW_CACHE_DIR: cacheDir,
  BITRIX_WEBHOOK_URL: '',
  B24_CLIENT_ID: '',
  B24_CLIENT_SECRET: '',
};
const entries = () => {
  try {
    return readdirSync(join(cacheDir, 'check'));
  } catch {
    return [];
  }
};

// a scheduled pipeline may not reach a destructive step, also through a sub-pipeline: the sub-file decides the outcome
const MAIN = `name: cache-main
packs: [core]
triggers:
  - schedule: { cron: "0 9 * * 1", approve: [write] }
steps:
  - id: deals
    method: crm.item.list
    params: { entityTypeId: 2, select: [id, title] }
  - id: notify
    pipeline: sub.yaml
`;
const SUB_OK = `name: cache-sub
packs: [core]
steps:
  - id: users
    method: user.get
    params: {}
`;
const SUB_DESTRUCTIVE = `name: cache-sub
packs: [core]
steps:
  - id: drop
    method: crm.item.delete
    params: { entityTypeId: 2, id: 1 }
`;

describe('check result cache', () => {
  const dir = join(work, 'p');
  const main = relative(root, join(dir, 'main.yaml'));
  let portal: TestPortal | undefined;

  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.yaml'), MAIN);
    writeFileSync(join(dir, 'sub.yaml'), SUB_OK);
  });
  afterAll(async () => {
    await portal?.close();
  });

  it('answers a repeated check from the cache with the same output, in private files', async () => {
    const first = await cli(['check', main], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`${main}: ok`);
    const stored = entries();
    expect(stored.length).toBe(1);
    expect(statSync(join(cacheDir, 'check')).mode & 0o777).toBe(0o700);
    expect(statSync(join(cacheDir, 'check', stored[0]!)).mode & 0o777).toBe(0o600);
    const second = await cli(['check', main], env);
    expect(second).toEqual(first);
    const fresh = await cli(['check', '--no-cache', main], env);
    expect(fresh.stdout).toBe(first.stdout);
  });

  it('re-checks when a sub-pipeline changes', async () => {
    writeFileSync(join(dir, 'sub.yaml'), SUB_DESTRUCTIVE);
    const r = await cli(['check', main], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/notify\.drop.*\[destructive-unconfirmable\]/);
    writeFileSync(join(dir, 'sub.yaml'), SUB_OK);
    expect((await cli(['check', main], env)).code).toBe(0);
  });

  it('re-checks when the pipeline itself changes', async () => {
    writeFileSync(join(dir, 'main.yaml'), MAIN.replace('crm.item.list', 'crm.item.lisst'));
    const broken = await cli(['check', main], env);
    expect(broken.code).toBe(2);
    expect(broken.stdout).toMatch(/crm\.item\.lisst/);
    writeFileSync(join(dir, 'main.yaml'), MAIN);
    expect((await cli(['check', main], env)).code).toBe(0);
  });

  it('re-checks when the catalog changes', async () => {
    const catalogCopy = join(work, 'catalog');
    cpSync(join(root, 'catalog'), catalogCopy, { recursive: true });
    const envCat = { ...env, B24FLOW_CATALOG_DIR: catalogCopy };
    expect((await cli(['check', main], envCat)).code).toBe(0);
    const core = join(catalogCopy, 'packs', 'core.yaml');
    writeFileSync(core, readFileSync(core, 'utf8').replace(/name: crm\.item\.list$/m, 'name: crm.item.list.moved'));
    const r = await cli(['check', main], envCat);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/crm\.item\.list/);
  });

  it('neither reads nor writes the cache with --no-cache or a configured portal', async () => {
    const other = join(work, 'cache-2');
    const env2 = { ...env, B24FLOW_CACHE_DIR: other };
    cpSync(join(dir, 'main.yaml'), join(dir, 'again.yaml'));
    const again = relative(root, join(dir, 'again.yaml'));
    expect((await cli(['check', '--no-cache', again], env2)).code).toBe(0);
    expect(() => readdirSync(join(other, 'check'))).toThrow();
    portal = await startPortal({ size: 20 });
    const withPortal = await cli(['check', again], { ...env2, BITRIX_WEBHOOK_URL: portal.sb.webhookUrl });
    expect(withPortal.code, withPortal.stderr).toBe(0);
    expect(() => readdirSync(join(other, 'check'))).toThrow();
  });
});
