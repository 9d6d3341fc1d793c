/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline expressions, not JS templates */
/**
 * Pipelines in plain words for chat users (src/agent/pipelineWords.ts), on the shipped `pipelines/*.yaml` and the
 * real catalog: schedules in words (en, ru), event triggers and how writes are approved, approvers, step words with
 * their risk, the step cut-off.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { CatalogView } from '../../src/agent/engine.js';
import { methodWords } from '../../src/agent/methodWords.js';
import { describePipeline } from '../../src/agent/pipelineWords.js';
import { loadCatalog } from '../../src/catalog/index.js';

const catalog = loadCatalog() as unknown as CatalogView;
const dir = join(import.meta.dirname, '..', '..', 'pipelines');
const shipped = readdirSync(dir)
  .filter((n) => n.endsWith('.yaml'))
  .sort();

/** A shipped pipeline document, parsed afresh (tests may change it). */
function load(name: string): Record<string, unknown> {
  return parse(readFileSync(join(dir, `${name}.yaml`), 'utf8')) as Record<string, unknown>;
}

const steps = (doc: Record<string, unknown>) => doc.steps as Record<string, unknown>[];

describe('describePipeline on the shipped pipelines', () => {
  it('weekly-report: the header, the Monday 08:00 schedule in words with its time zone, the steps (en, ru)', () => {
    const en = describePipeline(load('weekly-report'), catalog, 'en');
    const lines = en.split('\n');
    expect(lines[0]).toBe(
      'Pipeline “weekly-report”: Sums of open deals per stage, posted as a chat message every Monday morning.',
    );
    expect(lines[1]).toMatch(/^Schedule: at 08:00, only on Monday \(Europe\/Moscow\); writes without asking/);
    expect(en).toContain('In chat: /report or “отчёт по воронке”, “weekly report”');
    expect(en).toContain('• deals: read deals (read)');
    expect(en).toContain('• post: send a chat message (write)');
    const ru = describePipeline(load('weekly-report'), catalog, 'ru');
    expect(ru).toMatch(/По расписанию: в 08:00, только в понедельник \(Europe\/Moscow\)/i);
    expect(ru).toContain('изменения без подтверждения (approve: write)');
    expect(ru).toContain('• deals: прочитать сделки (чтение)');
    expect(ru).toContain('В чате: /report или «отчёт по воронке», «weekly report»');
  });

  it('weekly-duplicates: the schedule with the pipeline time zone, writes asked of the record owner (en, ru)', () => {
    const en = describePipeline(load('weekly-duplicates'), catalog, 'en');
    expect(en).toMatch(/Schedule: at 09:00, only on Monday \(Europe\/Moscow\); writes are asked of approvers/);
    expect(en).toContain('Approvers: the record owner; at least 1');
    expect(en).toContain('• mark: update contacts (write), for each item of an expression over steps.contacts');
    const ru = describePipeline(load('weekly-duplicates'), catalog, 'ru');
    expect(ru).toMatch(/понедельник/i);
    expect(ru).toContain('изменения утверждают согласующие');
    expect(ru).toContain('Согласующие: ответственный за запись; не менее 1');
  });

  it('lead-intake: the event line names ONCRMLEADADD and says its writes run without asking', () => {
    const en = describePipeline(load('lead-intake'), catalog, 'en');
    expect(en).toContain('When ONCRMLEADADD arrives; writes without asking (approve: write)');
    expect(en).toContain('• duplicates: add timeline comments (write)');
    expect(en).toContain('• assign: update leads (write)');
    expect(en).toContain('• users: read users (read)');
    const ru = describePipeline(load('lead-intake'), catalog, 'ru');
    expect(ru).toContain('Когда приходит ONCRMLEADADD; изменения без подтверждения (approve: write)');
    expect(ru).toContain('• assign: изменить лиды (изменение)');
  });

  it('a pipeline without triggers runs when started; a confirm step is always asked', () => {
    expect(describePipeline(load('offline-events-bootstrap'), catalog, 'en')).toContain(
      'Runs when started (chat, CLI)',
    );
    expect(describePipeline(load('smart-process'), catalog, 'ru')).toContain('Запускается вручную (чат, CLI)');
    expect(describePipeline(load('bulk-stage-move'), catalog, 'en')).toContain(
      '• move: update deals (write), for each item of steps.deals.result, always asked',
    );
  });

  it('every shipped pipeline: at most 12 lines, deterministic, no params or expressions braces (en, ru)', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(8);
    for (const file of shipped) {
      for (const lang of ['en', 'ru'] as const) {
        const doc = load(file.replace(/\.yaml$/, ''));
        const text = describePipeline(doc, catalog, lang);
        expect(text.split('\n').length, `${file} ${lang}`).toBeLessThanOrEqual(12);
        expect(text, file).not.toContain('${{');
        expect(text, file).not.toMatch(/undefined|\[object/);
        expect(describePipeline(load(file.replace(/\.yaml$/, '')), catalog, lang)).toBe(text);
      }
    }
    // weekly-report's message text (a param) is never shown
    expect(describePipeline(load('weekly-report'), catalog, 'en')).not.toContain('Open deals by stage');
  });
});

describe('describePipeline on changed documents', () => {
  it('names the approvers: users as #id, heads of departments, the record owner, min', () => {
    const doc = load('weekly-duplicates');
    doc.approvers = { users: [12, 34], departments: [5], record_owner: true, min: 2 };
    expect(describePipeline(doc, catalog, 'en')).toContain(
      'Approvers: #12, #34, heads of department 5, the record owner; at least 2',
    );
    expect(describePipeline(doc, catalog, 'ru')).toContain(
      'Согласующие: #12, #34, руководители отдела 5, ответственный за запись; не менее 2',
    );
  });

  it('marks a destructive step; pre-approved triggers still ask for deletions', () => {
    const doc = load('lead-intake');
    steps(doc).push({ id: 'purge', foreach: '${{ steps.leads.result }}', method: 'crm.lead.delete', params: {} });
    const en = describePipeline(doc, catalog, 'en');
    expect(en).toContain('• purge: ⚠ delete leads (destructive), for each item of steps.leads.result');
    expect(en).toContain('writes without asking (approve: write), deletions are still asked');
    expect(describePipeline(doc, catalog, 'ru')).toContain('• purge: ⚠ удалить лиды (удаление)');
  });

  it('cuts more than 8 steps with "… and N more"', () => {
    const doc = load('smart-process');
    const base = steps(doc);
    doc.steps = [
      ...base,
      ...base.map((s) => ({ ...s, id: `${s.id}2` })),
      ...base.map((s) => ({ ...s, id: `${s.id}3` })),
    ];
    const en = describePipeline(doc, catalog, 'en').split('\n');
    expect(en.filter((l) => l.startsWith('• '))).toHaveLength(8);
    expect(en.at(-1)).toBe('… and 7 more');
    expect(describePipeline(doc, catalog, 'ru').split('\n').at(-1)).toBe('… и ещё 7');
  });

  it('6-field crons, crons cronstrue cannot read (shown raw), event conditions shortened, recipes by title', () => {
    const doc = load('stale-deals');
    doc.triggers = [
      { schedule: { cron: '0 30 9 * * 1-5', approve: 'ask' } },
      { schedule: { cron: 'every day at nine', timezone: 'Europe/Moscow' } },
      {
        event: {
          events: ['ONCRMDEALADD', 'ONCRMDEALUPDATE'],
          if: '${{ event.data.FIELDS.ID != "" && event.data.FIELDS.STAGE_ID == "WON" && event.auth.domain != "" }}',
        },
      },
    ];
    steps(doc).push({ id: 'follow', use: 'deal-stage-task', with: { deal_id: 1 } });
    const en = describePipeline(doc, catalog, 'en').split('\n');
    expect(en[1]).toBe('Schedule: at 09:30, Monday through Friday; writes wait for approval (no approvers set)');
    expect(en[2]).toMatch(/^Schedule: every day at nine \(Europe\/Moscow\);/);
    expect(en[3]).toMatch(/^When ONCRMDEALADD or ONCRMDEALUPDATE arrives, if event\.data\.FIELDS\.ID != "".*…;/);
    expect(en[3]?.length).toBeLessThan(160);
    expect(en).toContain("• follow: Follow-up task for a deal's owner (write)");
    expect(describePipeline(doc, catalog, 'ru')).toContain('• follow: Задача ответственному по сделке (изменение)');
  });
  it('inserts names and phrases as written (no replacement patterns)', () => {
    const doc = load('duplicate-contacts');
    doc.triggers = [{ chat: { command: 'dups', phrases: ["price $& more $'"] } }];
    expect(describePipeline(doc, catalog, 'en')).toContain(`In chat: /dups or “price $& more $'”`);
  });
});

describe('methodWords', () => {
  it('derives the words from the method name; falls back to the name for an unknown verb', () => {
    expect(methodWords('crm.deal.list', undefined, 'en')).toBe('read deals');
    expect(methodWords('crm.lead.update', undefined, 'en')).toBe('update leads');
    expect(methodWords('crm.timeline.comment.add', undefined, 'en')).toBe('add timeline comments');
    expect(methodWords('im.notify.system.add', undefined, 'en')).toBe('notify');
    expect(methodWords('crm.company.delete', undefined, 'ru')).toBe('удалить компании');
    expect(methodWords('crm.item.list', { entityTypeId: 2 }, 'en')).toBe('read deals');
    expect(methodWords('crm.item.list', { entityTypeId: 1040 }, 'en')).toBe('read items');
    expect(methodWords('crm.deal.userfield.list', undefined, 'en')).toBe('read deal userfields');
    expect(methodWords('bizproc.workflow.start', undefined, 'en')).toBe('bizproc.workflow.start');
  });
});
