import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog, stem } from '../../src/catalog/index.js';
import { closest, editDistance } from '../../src/lib/closest.js';
import { scanPending, testDir } from '../support/testRoot.js';
import { cli, root } from './helpers.js';
import { SEARCH_CASES } from './searchQueries.js';

const cat = loadCatalog();
const top3 = (q: string) => cat.search(q, { limit: 3 }).map((m) => m.name);

describe('catalog search: Russian and English word forms, name > summary > vocabulary', () => {
  it('stems Russian and English with Snowball', () => {
    expect(stem('сделку')).toBe(stem('сделка'));
    expect(stem('задачу')).toBe(stem('задачи'));
    expect(stem('Deleting')).toBe(stem('delete'));
    expect(stem('deals')).toBe('deal');
    expect(stem('завершённую')).toBe(stem('завершенную'));
  });

  it.each([
    ['удалить сделку', ['crm.deal.delete']],
    ['завершить задачу', ['tasks.task.complete']],
    ['найти дубликаты по телефону', ['crm.duplicate.findbycomm']],
    ['отправить сообщение', ['im.message.add', 'im.notify.system.add', 'im.notify.personal.add']],
    ['deleting deals', ['crm.deal.delete']],
    ['completed tasks', ['tasks.task.complete']],
  ])('"%s" finds the method in the top 3', (query, expected) => {
    expect(top3(query).some((n) => expected.includes(n))).toBe(true);
  });

  it('"удалить сделку" puts crm.deal.delete first, not a create or a list', () => {
    expect(top3('удалить сделку')[0]).toBe('crm.deal.delete');
    expect(top3('deleting deals')[0]).toBe('crm.deal.delete');
  });

  it('"задача" ranks only task methods in the top 3', () => {
    const hits = top3('задача');
    expect(hits).toHaveLength(3);
    for (const n of hits) expect(n).toMatch(/^tasks?\./);
  });

  it('an exact method name comes first', () => {
    expect(top3('crm.deal.add')[0]).toBe('crm.deal.add');
    expect(top3('CRM.Deal.Update')[0]).toBe('crm.deal.update');
  });

  it('hits every case of the query list in the top 3', () => {
    const misses = SEARCH_CASES.filter((c) => !top3(c.query).some((n) => c.expect.includes(n))).map(
      (c) => `${c.query} → ${top3(c.query).join(', ')}`,
    );
    expect(misses).toEqual([]);
    expect(SEARCH_CASES.length).toBeGreaterThanOrEqual(20);
  });

  it('the CLI answers the Russian queries (--json)', () => {
    const r = cli(['catalog', 'search', 'удалить', 'сделку', '--json', '--limit', '3']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ name: string }>)[0]?.name).toBe('crm.deal.delete');
    const dup = cli(['catalog', 'search', 'найти дубликаты по телефону', '--json', '--limit', '3']);
    expect((JSON.parse(dup.stdout) as Array<{ name: string }>).map((m) => m.name)).toContain(
      'crm.duplicate.findbycomm',
    );
  });
});

describe('closest (did you mean)', () => {
  it('measures edit distance and picks the nearest candidate within reach', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(closest('crm.deal.delet', ['crm.deal.add', 'crm.deal.delete'])).toBe('crm.deal.delete');
    expect(closest('zzz.qqq', ['crm.deal.add'])).toBeUndefined();
  });
});

describe('b24flow catalog validate: method names must be documented', () => {
  const tmp = testDir('b24flow-catalog-names-');
  afterAll(() => (scanPending() ? undefined : rmSync(tmp, { recursive: true, force: true })));

  it('refuses an invented curated method with file:line and the nearest documented name', () => {
    const dir = join(tmp, 'catalog');
    cpSync(join(root, 'catalog'), dir, { recursive: true });
    const file = join(dir, 'packs', 'core.yaml');
    const text = readFileSync(file, 'utf8');
    const line = text.slice(0, text.indexOf('  - name: crm.deal.delete\n')).split('\n').length;
    writeFileSync(file, text.replace('  - name: crm.deal.delete\n', '  - name: crm.deal.delet\n'));
    const r = cli(['catalog', 'validate', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `packs/core\\.yaml:${line}:\\d+: method crm\\.deal\\.delet is not in the reference catalog; did you mean crm\\.deal\\.delete\\?.*\\[not-in-reference\\]`,
      ),
    );
  });

  it('accepts a documented method the reference lacks when reference_gap says why; warns on a needless one', () => {
    const dir = join(tmp, 'catalog-gap');
    cpSync(join(root, 'catalog'), dir, { recursive: true });
    const file = join(dir, 'packs', 'core.yaml');
    const text = readFileSync(file, 'utf8');
    const gap =
      '    reference_gap: "documented on the page in doc; the imported spec (b24-spec simulator data) does not list it"\n';
    const withoutGap = text.replace(`  - name: user.current\n${gap}`, '  - name: user.current\n');
    expect(withoutGap).not.toBe(text);
    writeFileSync(file, withoutGap);
    const r = cli(['catalog', 'validate', '--dir', dir, '--json']);
    expect(r.code).toBe(2);
    const findings = (JSON.parse(r.stdout) as { findings: Array<{ rule: string; message: string }> }).findings;
    expect(findings.filter((f) => f.rule === 'not-in-reference').map((f) => f.message)).toEqual([
      expect.stringMatching(/^method user\.current is not in the reference catalog/),
    ]);
    writeFileSync(file, text.replace('  - name: crm.deal.delete\n', `  - name: crm.deal.delete\n${gap}`));
    const w = cli(['catalog', 'validate', '--dir', dir, '--json']);
    const rules = (JSON.parse(w.stdout) as { findings: Array<{ rule: string; severity: string }> }).findings;
    expect(rules).toContainEqual(expect.objectContaining({ rule: 'not-in-reference', severity: 'warning' }));
  });

  it('checks a pack given as a path against the shipped reference', () => {
    const dir = join(tmp, 'paths');
    mkdirSync(dir, { recursive: true });
    cpSync(join(root, 'catalog', 'packs', 'comms.yaml'), join(dir, 'comms.yaml'));
    const file = join(dir, 'comms.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('  - name: im.message.add\n', '  - name: im.mesage.add\n'));
    const r = cli(['catalog', 'validate', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /comms\.yaml:\d+:\d+: method im\.mesage\.add is not in the reference catalog; did you mean im\.message\.add\?/,
    );
  });
});
