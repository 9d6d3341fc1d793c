import { describe, expect, it } from 'vitest';
import {
  commandParams,
  effectiveRisk,
  isPureRead,
  loadCatalog,
  looseEquals,
  type MethodEntry,
} from '../../src/catalog/index.js';
import { classifyByVerb } from '../../src/catalog/risk.js';

const cat = loadCatalog();
const offlineGet = cat.method('event.offline.get')!;

describe('effectiveRisk: event.offline.get (clear, default 1)', () => {
  it('is destructive with no params: the portal assumes clear=1', () => {
    const r = effectiveRisk(offlineGet, undefined);
    expect(r.risk).toBe('destructive');
    expect(r.because).toMatchObject({ param: 'clear', value: 1, source: 'default' });
    expect(r.because!.summary.en).toMatch(/removes the returned events/);
    expect(effectiveRisk(offlineGet, {}).risk).toBe('destructive');
    expect(isPureRead(offlineGet, {})).toBe(false);
  });

  it('is a read with clear: 0, "0", false, "N" (loose values)', () => {
    for (const clear of [0, '0', false, 'N', 'n', ' 0 ', '']) {
      expect(effectiveRisk(offlineGet, { clear }), String(clear)).toEqual({ risk: 'read' });
      expect(isPureRead(offlineGet, { clear })).toBe(true);
    }
    expect(effectiveRisk(offlineGet, { CLEAR: 0 }).risk).toBe('read'); // keys match case-insensitively
  });

  it('is destructive with clear: 1, "1", true, "Y", 2', () => {
    for (const clear of [1, '1', true, 'Y', 2, '01']) {
      expect(effectiveRisk(offlineGet, { clear }).risk, String(clear)).toBe('destructive');
    }
    expect(effectiveRisk(offlineGet, { clear: 1 }).because).toMatchObject({ source: 'sent', value: 1 });
  });

  it('counts an expression as "may apply" (worst case)', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline expression
    const r = effectiveRisk(offlineGet, { clear: '${{ inputs.clear }}' });
    expect(r.risk).toBe('destructive');
    expect(r.because).toMatchObject({ param: 'clear', source: 'expression' });
    expect(effectiveRisk(offlineGet, { clear: '$result[prev][x]' }).risk).toBe('destructive');
  });

  it('treats null as not sent (the default applies)', () => {
    expect(effectiveRisk(offlineGet, { clear: null }).risk).toBe('destructive');
  });
});

describe('effectiveRisk: other shapes', () => {
  const base: MethodEntry = { name: 'x.y.get', scope: 'x', risk: 'read' };

  it('without effects is the method risk', () => {
    expect(effectiveRisk(base, { a: 1 })).toEqual({ risk: 'read' });
    expect(effectiveRisk(cat.method('crm.deal.delete')!, {})).toEqual({ risk: 'destructive' });
    expect(isPureRead(cat.method('crm.deal.list')!, { filter: {} })).toBe(true);
  });

  it('"when" applies only for the listed values; no default means not sent = no effect', () => {
    const m: MethodEntry = {
      ...base,
      effects: [{ param: 'MARK_READ', when: ['Y'], risk: 'write', summary: { en: 'marks read', ru: 'отмечает' } }],
    };
    expect(effectiveRisk(m, {}).risk).toBe('read');
    expect(effectiveRisk(m, { MARK_READ: 'N' }).risk).toBe('read');
    expect(effectiveRisk(m, { mark_read: true }).risk).toBe('write');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline expression
    expect(effectiveRisk(m, { MARK_READ: '${{ x }}' }).risk).toBe('write');
  });

  it('without when/unless applies whenever a value is sent; the highest effect decides', () => {
    const m: MethodEntry = {
      ...base,
      effects: [
        { param: 'a', risk: 'write', summary: { en: 'a', ru: 'a' } },
        { param: 'b', unless: [0], risk: 'destructive', summary: { en: 'b', ru: 'b' } },
      ],
    };
    expect(effectiveRisk(m, { a: 'x' })).toMatchObject({ risk: 'write', because: { param: 'a' } });
    expect(effectiveRisk(m, { a: 'x', b: 5 })).toMatchObject({ risk: 'destructive', because: { param: 'b' } });
    expect(effectiveRisk(m, { b: 0 }).risk).toBe('read');
  });

  it('a batch is never a pure read by itself: its commands decide', () => {
    const batch = cat.method('batch')!;
    expect(batch.risk_from_commands).toBe(true);
    expect(isPureRead(batch, { cmd: {} })).toBe(false);
  });

  it('reference-only consumers: im.v2.Event.get acknowledges with offset', () => {
    const m = cat.method('im.v2.Event.get')!;
    expect(m.curated).toBe(false);
    expect(effectiveRisk(m, {}).risk).toBe('read');
    expect(effectiveRisk(m, { offset: 0 }).risk).toBe('read');
    expect(effectiveRisk(m, { offset: 120 }).risk).toBe('destructive');
    expect(effectiveRisk(cat.method('imbot.v2.Event.get')!, { botId: 1, offset: '7' }).risk).toBe('destructive');
  });

  it('the verb table no longer reads "read" (mark as read) and "show" (make visible) as reads', () => {
    expect(classifyByVerb('im.dialog.read').risk).toBe('write');
    expect(classifyByVerb('imconnector.send.status.reading').risk).toBe('write');
    expect(classifyByVerb('landing.landing.showblock').risk).toBe('write');
    expect(classifyByVerb('im.dialog.messages.get').risk).toBe('read');
  });

  it('reads that write by name carry a reviewed write risk', () => {
    for (const n of [
      'im.dialog.read',
      'im.notify.read',
      'im.notify.read.list',
      'imbot.v2.Chat.Message.read',
      'imconnector.send.status.reading',
      'landing.landing.showblock',
      'telephony.externalCall.show',
      'disk.file.getExternalLink',
      'disk.folder.getExternalLink',
    ]) {
      expect(cat.method(n), n).toMatchObject({ risk: 'write', risk_source: 'curated', curated: false });
    }
  });
});

describe('loose values and batch commands', () => {
  it('compares values as Bitrix24 reads them', () => {
    expect(looseEquals(0, '0')).toBe(true);
    expect(looseEquals(false, 'N')).toBe(true);
    expect(looseEquals(true, 'Y')).toBe(true);
    expect(looseEquals('1.0', 1)).toBe(true);
    expect(looseEquals('asc', 'ASC')).toBe(true);
    expect(looseEquals(1, 2)).toBe(false);
    expect(looseEquals('Y', 'N')).toBe(false);
  });

  it('splits a batch command into method and top-level params', () => {
    expect(commandParams('event.offline.get?clear=0&limit=10')).toEqual({
      method: 'event.offline.get',
      params: { clear: '0', limit: '10' },
    });
    expect(commandParams('crm.deal.list?filter%5BID%5D=1&select[]=ID').params).toEqual({ filter: {}, select: {} });
    expect(commandParams('event.offline.get')).toEqual({ method: 'event.offline.get', params: {} });
    const { method, params } = commandParams('event.offline.get?limit=5');
    expect(effectiveRisk(cat.method(method)!, params).risk).toBe('destructive');
  });
});
