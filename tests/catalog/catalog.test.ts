import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDone, loadCatalog, PACK_NAMES } from '../../src/catalog/index.js';
import { classifyByVerb } from '../../src/catalog/risk.js';
import { CATALOG_DIR, sourceHash } from '../../src/catalog/store.js';
import { lastWordRisk, MVP, SEED } from './helpers.js';

const cat = loadCatalog();

describe('curated packs', () => {
  it('has the 12 packs, each with methods, scopes and a ru+en vocabulary', () => {
    expect(cat.packs.map((p) => p.name)).toEqual([...PACK_NAMES]);
    for (const p of cat.packs) {
      expect(p.methods.length, p.name).toBeGreaterThanOrEqual(5);
      expect(p.vocabulary.en.length, p.name).toBeGreaterThan(0);
      expect(p.vocabulary.ru.length, p.name).toBeGreaterThan(0);
    }
  });

  it('holds every seed method in its pack with the seed risk class', () => {
    expect(SEED.length).toBeGreaterThan(110);
    const wrong: string[] = [];
    for (const s of SEED) {
      const m = cat.method(s.method);
      if (!m) wrong.push(`${s.method}: missing`);
      else {
        if (m.name !== s.method) wrong.push(`${s.method}: documented case is ${m.name}`);
        if (m.risk !== s.risk) wrong.push(`${s.method}: ${m.risk} != ${s.risk}`);
        if (m.pack !== s.pack) wrong.push(`${s.method}: pack ${m.pack} != ${s.pack}`);
        if (!m.curated || m.risk_source !== 'curated') wrong.push(`${s.method}: not curated`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('holds the MVP methods and the ones the example pipelines need', () => {
    const extra = [
      'crm.contact.add',
      'crm.contact.update',
      'crm.lead.get',
      'crm.item.list',
      'crm.item.get',
      'crm.item.add',
      'crm.item.update',
      'crm.duplicate.findbycomm',
      'tasks.task.get',
      'im.notify.system.add',
      'crm.deal.delete',
      'event.offline.error',
      'app.info',
    ];
    for (const n of [...MVP, ...extra]) expect(cat.method(n)?.curated, n).toBe(true);
    expect(cat.method('crm.deal.delete')!.risk).toBe('destructive');
  });

  it('pins the 16 methods a last-word classifier under-rates', () => {
    const rank = { read: 0, write: 1, destructive: 2 };
    const underRated = SEED.filter((s) => rank[lastWordRisk(s.method)] < rank[s.risk]).map((s) => s.method);
    expect(underRated.sort()).toEqual(
      [
        'event.offline.clear',
        'event.offline.error',
        'imbot.command.answer',
        'telephony.externalCall.finish',
        'bizproc.workflow.terminate',
        'bizproc.workflow.kill',
        'sonet_group.create',
        'disk.folder.addSubFolder',
        'disk.folder.uploadFile',
        'disk.file.copyTo',
        'disk.file.moveTo',
        'tasks.api.scrum.kanban.addTask',
        'tasks.api.scrum.kanban.deleteTask',
        'timeman.open',
        'timeman.close',
        'landing.block.addcard',
      ].sort(),
    );
    const classes = Object.fromEntries(underRated.map((n) => [n, cat.method(n)!.risk]));
    expect(classes).toEqual({
      'event.offline.clear': 'destructive',
      'event.offline.error': 'write',
      'imbot.command.answer': 'write',
      'telephony.externalCall.finish': 'write',
      'bizproc.workflow.terminate': 'destructive',
      'bizproc.workflow.kill': 'destructive',
      'sonet_group.create': 'write',
      'disk.folder.addSubFolder': 'write',
      'disk.folder.uploadFile': 'write',
      'disk.file.copyTo': 'write',
      'disk.file.moveTo': 'write',
      'tasks.api.scrum.kanban.addTask': 'write',
      'tasks.api.scrum.kanban.deleteTask': 'destructive',
      'timeman.open': 'write',
      'timeman.close': 'write',
      'landing.block.addcard': 'write',
    });
  });

  it('states the facts the MVP enforced: required params, positional methods, risk fields, auth', () => {
    const field = (method: string, param: string, f?: string) => {
      const p = cat.method(method)!.params!.find((x) => x.name === param)!;
      return f ? p.fields!.find((x) => x.name === f)! : p;
    };
    expect(field('crm.deal.add', 'fields', 'TITLE').required).toBe(true);
    expect(field('crm.deal.update', 'id').required).toBe(true);
    expect(field('crm.deal.update', 'fields').required).toBe(true);
    expect(field('tasks.task.add', 'fields', 'TITLE').required).toBe(true);
    expect(field('tasks.task.add', 'fields', 'RESPONSIBLE_ID').required).toBe(true);
    expect(field('crm.status.list', 'filter').required).toBe(true);
    for (const f of ['OWNER_TYPE_ID', 'OWNER_ID', 'TYPE_ID', 'SUBJECT']) {
      expect(field('crm.activity.add', 'fields', f).required, f).toBe(true);
    }
    for (const m of ['task.commentitem.add', 'task.checklistitem.add']) {
      const e = cat.method(m)!;
      expect(e.positional).toBe(true);
      expect(e.params!.map((p) => p.name).slice(0, 2)).toEqual(['TASKID', 'FIELDS']);
    }
    expect(cat.method('crm.deal.update')!.risk_fields).toEqual([
      'OPPORTUNITY',
      'ASSIGNED_BY_ID',
      'STAGE_ID',
      'CATEGORY_ID',
    ]);
    expect(cat.method('tasks.task.add')!.risk_fields).toEqual(['RESPONSIBLE_ID', 'DEADLINE']);
    for (const m of [
      'event.bind',
      'event.get',
      'event.unbind',
      'event.offline.list',
      'event.offline.get',
      'event.offline.clear',
      'app.info',
    ]) {
      expect(cat.method(m)!.auth, m).toBe('app');
    }
    expect(cat.method('crm.deal.add')!.auth).toBe('any');
    expect(cat.method('batch')!.risk_from_commands).toBe(true);
    expect(cat.method('batch')!.batchable).toBe(false);
  });

  it('describes list paging: wrapper key, id case, start=-1', () => {
    expect(cat.method('tasks.task.list')!.list).toMatchObject({ wrapper: 'tasks', id_field: 'id' });
    expect(cat.method('crm.item.list')!.list).toMatchObject({
      wrapper: 'items',
      id_field: 'id',
      start_minus_one: true,
    });
    expect(cat.method('crm.deal.list')!.list).toMatchObject({ wrapper: null, id_field: 'ID', start_minus_one: true });
    expect(cat.method('crm.category.list')!.list).toMatchObject({ wrapper: 'categories', id_field: 'id' });
  });

  it('marks REST 3.0 availability and deprecation with successors', () => {
    expect(cat.method('tasks.task.add')!.rest_v3).toBe(true);
    expect(cat.method('note.document.add')!.rest_v3).toBe(true);
    expect(cat.method('crm.deal.add')!.rest_v3).toBe(false);
    expect(cat.method('crm.dealcategory.list')).toMatchObject({ deprecated: true, successor: 'crm.category.list' });
    expect(cat.method('crm.dealcategory.stage.list')).toMatchObject({ deprecated: true, successor: 'crm.status.list' });
  });

  it('gives every write a summary and plural "done" phrases in en and ru', () => {
    for (const p of cat.packs) {
      for (const m of p.methods) {
        expect(m.summary?.en, m.name).toBeTruthy();
        expect(m.summary?.ru, m.name).toBeTruthy();
        expect(m.doc, m.name).toMatch(/^https:\/\/apidocs\.bitrix24\.com\//);
        if (m.risk !== 'read') expect(m.done, m.name).toBeDefined();
      }
    }
    const deal = cat.method('crm.deal.add')!;
    expect([1, 2, 5, 11, 21, 22].map((n) => formatDone(deal, n, 'ru'))).toEqual([
      'Создана 1 сделка',
      'Создано 2 сделки',
      'Создано 5 сделок',
      'Создано 11 сделок',
      'Создана 21 сделка',
      'Создано 22 сделки',
    ]);
    expect(formatDone(deal, 1, 'en')).toBe('Created 1 deal');
    expect(formatDone(deal, 3, 'en')).toBe('Created 3 deals');
    expect(formatDone(cat.method('crm.deal.get')!, 3, 'en')).toBeUndefined();
  });

  it('keeps vocabulary terms unique across packs and routes ru/en requests', () => {
    const owner = new Map<string, string>();
    for (const p of cat.packs) {
      for (const t of [...p.vocabulary.en, ...p.vocabulary.ru]) {
        expect(owner.get(t.toLowerCase()), `${t} in ${p.name}`).toBeUndefined();
        owner.set(t.toLowerCase(), p.name);
      }
    }
    expect(cat.routePacks('start the next scrum sprint')[0]).toBe('boards');
    expect(cat.routePacks('ask Copilot to write a prompt')[0]).toBe('platform');
    expect(cat.routePacks('подключи открытые линии')[0]).toBe('comms');
    expect(cat.routePacks('опубликуй в живой ленте')[0]).toBe('collab');
    expect(cat.routePacks('оплата заказа 15')[0]).toBe('commerce');
    expect(cat.routePacks('создай сделку на 5000')).toEqual(['core']);
    expect(cat.routePacks('hello there')).toEqual(['core']);
  });
});

describe('scopes', () => {
  it('gives each pack exactly the scopes its methods use (least privilege)', () => {
    for (const p of cat.packs) {
      const used = [...new Set(p.methods.map((m) => m.scope).filter((s) => s !== 'basic'))].sort();
      expect([...p.scopes].sort(), p.name).toEqual(used);
    }
  });

  it('unions pack scopes and rejects unknown packs', () => {
    const core = cat.scopesFor(['core']);
    expect(core).toEqual(['crm', 'department', 'task', 'user']);
    const both = cat.scopesFor(['core', 'comms']);
    expect(both).toContain('im');
    expect(both).toEqual([...new Set([...core, ...cat.scopesFor(['comms'])])].sort());
    expect(() => cat.scopesFor(['core', 'nope'])).toThrow(/unknown pack "nope"/);
  });
});

describe('reference catalog', () => {
  it('holds the documented set with heuristic risk unless curated', () => {
    expect(cat.referenceSize).toBeGreaterThanOrEqual(1500);
    const m = cat.method('crm.automation.trigger.add');
    expect(m).toMatchObject({ curated: false, risk_source: 'heuristic', scope: 'crm' });
    expect(cat.method('task.commentitem.delete')).toMatchObject({ curated: false, risk: 'destructive', scope: 'task' });
    expect(cat.method('sonet_group.user.add')?.scope).toBe('sonet_group');
    expect(cat.method('CRM.DEAL.ADD')?.name).toBe('crm.deal.add');
    expect(cat.method('disk.folder.uploadfile')?.name).toBe('disk.folder.uploadFile');
  });

  it('classifies uncurated methods by verb meaning, never a read by default', () => {
    expect(classifyByVerb('tasks.api.scrum.kanban.deleteTask').risk).toBe('destructive');
    expect(classifyByVerb('bizproc.workflow.kill').risk).toBe('destructive');
    expect(classifyByVerb('event.offline.clear').risk).toBe('destructive');
    expect(classifyByVerb('disk.folder.deletetree').risk).toBe('destructive');
    expect(classifyByVerb('disk.folder.uploadfile').risk).toBe('write');
    expect(classifyByVerb('timeman.open').risk).toBe('write');
    expect(classifyByVerb('sonet_group.create').risk).toBe('write');
    expect(classifyByVerb('crm.deal.list').risk).toBe('read');
    expect(classifyByVerb('disk.storage.getchildren').risk).toBe('read');
  });

  it('ships a compiled index that matches the sources (run `b24flow catalog build` after edits)', () => {
    const idx = JSON.parse(readFileSync(join(CATALOG_DIR, 'index.json'), 'utf8')) as { hash: string };
    expect(idx.hash).toBe(sourceHash(CATALOG_DIR));
    expect(cat.stale).toBe(false);
  });
});

describe('recipes', () => {
  it('has at least one recipe per pack, each calling catalog methods of its packs', () => {
    for (const p of PACK_NAMES)
      expect(
        cat.recipes.some((r) => r.pack === p),
        p,
      ).toBe(true);
    for (const r of cat.recipes) {
      const packs = new Set([r.pack, ...(r.packs ?? [])]);
      for (const s of r.steps) {
        if (!s.method) continue;
        const m = cat.method(s.method);
        expect(m?.name, `${r.recipe}/${s.id}`).toBe(s.method);
        expect(packs.has(m!.pack!), `${r.recipe}/${s.id} uses ${m!.pack}`).toBe(true);
      }
    }
    expect(cat.recipe('offline-event-bootstrap')!.steps.map((s) => s.method)).toContain('event.bind');
  });

  it('searches in Russian and English', () => {
    expect(cat.search('сделку', { limit: 5 }).map((m) => m.name)).toContain('crm.deal.add');
    expect(cat.search('upload file', { limit: 3 }).map((m) => m.name)).toContain('disk.folder.uploadFile');
    expect(cat.search('комментарий задаче', { limit: 3 })[0]?.name).toBe('task.commentitem.add');
    expect(cat.search('deal', { packs: ['comms'] })).toEqual([]);
    expect(cat.search('automation.trigger').some((m) => m.name === 'crm.automation.trigger.add' && !m.curated)).toBe(
      true,
    );
  });
});
