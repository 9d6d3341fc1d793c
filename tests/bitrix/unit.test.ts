/**
 * Unit-level behaviour of the client's pure parts: PHP form encoding, error dialects, batch building,
 * the token bucket. Everything that talks HTTP is tested against the sandbox in the other files.
 */
import { describe, expect, it } from 'vitest';
import { BatchBuilder, BatchRef, chunkCommands, normaliseCommands, parseBatchAnswer } from '../../src/bitrix/batch.js';
import { decodeParams, encodeParams } from '../../src/bitrix/encode.js';
import { PortalClock } from '../../src/bitrix/limiter/portalClock.js';
import { TokenBucket } from '../../src/bitrix/limiter/tokenBucket.js';
import { extractRows, keysetParams } from '../../src/bitrix/list.js';
import {
  AccessDenied,
  BatchError,
  ExpiredToken,
  errorFromResponse,
  InsufficientScope,
  InvalidArgument,
  MethodNotFound,
  NonJsonResponse,
  NotFound,
  OperationTimeLimit,
  QueryLimitExceeded,
  WrongAuthType,
} from '../../src/bitrix/restErrors.js';

describe('PHP bracket encoding', () => {
  it('round-trips nested objects, arrays of objects, null, booleans and empties', () => {
    const qs = encodeParams({
      fields: {
        TITLE: 'A & B',
        PHONE: [
          { VALUE: '+1 555', VALUE_TYPE: 'WORK' },
          { VALUE: '2', VALUE_TYPE: 'HOME' },
        ],
        COMMENTS: null,
        OPENED: true,
        CLOSED: false,
        CONTACT_IDS: [],
        UF: {},
        MATRIX: [
          [1, 2],
          [3, 4],
        ],
      },
      filter: { '>ID': 5 },
    });
    expect(qs).toContain('fields[PHONE][1][VALUE_TYPE]=HOME');
    expect(qs).toContain('fields[COMMENTS]=&');
    expect(qs).toContain('fields[CONTACT_IDS]=&');
    expect(qs).toContain('filter[%3EID]=5');
    expect(decodeParams(qs)).toEqual({
      fields: {
        TITLE: 'A & B',
        PHONE: {
          0: { VALUE: '+1 555', VALUE_TYPE: 'WORK' },
          1: { VALUE: '2', VALUE_TYPE: 'HOME' },
        },
        COMMENTS: '',
        OPENED: 'Y',
        CLOSED: 'N',
        CONTACT_IDS: '',
        UF: '',
        MATRIX: { 0: { 0: '1', 1: '2' }, 1: { 0: '3', 1: '4' } },
      },
      filter: { '>ID': '5' },
    });
    expect(encodeParams({ a: true }, { booleans: '10' })).toBe('a=1');
  });

  it('writes $result references literally and positional params by index', () => {
    expect(encodeParams({ filter: { '>ID': new BatchRef('p0', [49, 'ID']) } })).toBe(
      'filter[%3EID]=$result[p0][49][ID]',
    );
    expect(encodeParams([123, { POST_MESSAGE: 'hi' }])).toBe('0=123&1[POST_MESSAGE]=hi');
  });
});

describe('error dialects', () => {
  const ctx = { method: 'crm.deal.get', authKind: 'webhook' as const };
  it('maps system, legacy CRM, D7, REST 3.0 and OAuth errors to typed classes', () => {
    expect(
      errorFromResponse(503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' }, '', ctx),
    ).toBeInstanceOf(QueryLimitExceeded);
    expect(errorFromResponse(429, { error: 'OPERATION_TIME_LIMIT' }, '', ctx)).toBeInstanceOf(OperationTimeLimit);
    expect(errorFromResponse(401, { error: 'expired_token' }, '', ctx)).toBeInstanceOf(ExpiredToken);
    const legacy = errorFromResponse(400, { error: '', error_description: 'Not found' }, '', ctx);
    expect(legacy).toBeInstanceOf(NotFound);
    expect(legacy.dialect).toBe('legacy-crm');
    const legacyArg = errorFromResponse(
      400,
      { error: '', error_description: 'ID is not defined or invalid.' },
      '',
      ctx,
    );
    expect(legacyArg).toBeInstanceOf(InvalidArgument);
    const d7 = errorFromResponse(
      400,
      { error: '100', error_description: 'Could not find value for parameter {id}' },
      '',
      {
        method: 'tasks.task.get',
      },
    );
    expect(d7.dialect).toBe('d7');
    expect(
      errorFromResponse(400, { error: 'NOT_FOUND', error_description: 'Element not found' }, '', {
        method: 'crm.item.get',
      }),
    ).toBeInstanceOf(NotFound);
    const v3 = errorFromResponse(
      400,
      {
        error: {
          code: 'BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION',
          message: 'bad',
          validation: [{ field: 'id', message: 'required' }],
        },
      },
      '',
      { method: 'tasks.task.get' },
    );
    expect(v3.dialect).toBe('v3');
    expect(v3).toBeInstanceOf(InvalidArgument);
    expect(v3.validation).toEqual([{ field: 'id', message: 'required' }]);
  });

  it('gives remediation hints for fatal codes', () => {
    const scope = errorFromResponse(403, { error: 'insufficient_scope' }, '', {
      method: 'crm.deal.list',
      scope: 'crm',
    });
    expect(scope).toBeInstanceOf(InsufficientScope);
    expect(scope.hint).toMatch(/scope `crm`/);
    const wrong = errorFromResponse(403, { error: 'WRONG_AUTH_TYPE' }, '', { method: 'event.bind' });
    expect(wrong).toBeInstanceOf(WrongAuthType);
    expect(wrong.hint).toMatch(/OAuth application/);
    expect(errorFromResponse(404, { error: 'ERROR_METHOD_NOT_FOUND' }, '', ctx)).toBeInstanceOf(MethodNotFound);
    expect(errorFromResponse(403, { error: 'ACCESS_DENIED' }, '', ctx)).toBeInstanceOf(AccessDenied);
    expect(errorFromResponse(403, { error: 'ACCESS_DENIED' }, '', ctx).retryable).toBe(false);
  });

  it('classifies HTML and non-JSON answers', () => {
    const e = errorFromResponse(502, undefined, '<html><body><h1>502 Bad Gateway</h1></body></html>', ctx);
    expect(e).toBeInstanceOf(NonJsonResponse);
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('502 Bad Gateway');
  });
});

describe('batch building', () => {
  it('builds typed references and refuses nested batches before sending', () => {
    const b = new BatchBuilder();
    const user = b.add<{ UF_DEPARTMENT: number[] }>('user.current');
    b.add('department.get', { ID: user.ref('UF_DEPARTMENT', 0) });
    expect(String(user.ref('UF_DEPARTMENT', 0))).toBe('$result[c0][UF_DEPARTMENT][0]');
    expect(() => b.add('batch', { cmd: {} })).toThrow(BatchError);
    expect(() => normaliseCommands([{ method: 'BATCH', params: {} }])).toThrow(/batch cannot contain another batch/);
  });

  it('chunks above 50 and rejects references to later commands', () => {
    const cmds = Array.from({ length: 120 }, (_, i) => ({
      method: 'crm.deal.add',
      params: { fields: { TITLE: `d${i}` } },
    }));
    const { chunks, crossRefs } = chunkCommands(normaliseCommands(cmds));
    expect(chunks.map((c) => c.length)).toEqual([50, 50, 20]);
    expect(crossRefs).toBe(false);
    expect(() =>
      chunkCommands(
        normaliseCommands({ a: { method: 'x.get', params: { id: new BatchRef('b', []) } }, b: { method: 'y.get' } }),
      ),
    ).toThrow(/runs after it/);
  });

  it('parses per-command results and errors, with PHP [] for empty sections', () => {
    const a = parseBatchAnswer(
      {
        result: { a: [1], b: true },
        result_error: { c: { error: 'insufficient_scope', error_description: '' } },
        result_total: { a: 1 },
        result_next: [],
        result_time: [],
      },
      ['a', 'b', 'c'],
      { a: 'crm.deal.list', b: 'crm.deal.update', c: 'user.get' },
    );
    expect(a.results).toEqual({ a: [1], b: true });
    expect(a.errors.c).toBeInstanceOf(InsufficientScope);
    expect(a.totals).toEqual({ a: 1 });
  });
});

describe('lists', () => {
  it('finds rows under any wrapper key and builds keyset params', () => {
    expect(extractRows({ tasks: [{ id: '1' }] }).wrapper).toBe('tasks');
    expect(extractRows([{ ID: '1' }]).wrapper).toBeNull();
    expect(extractRows({ items: [], total: 0 } as any).rows).toEqual([]);
    expect(
      keysetParams({ filter: { STAGE_ID: 'WON' }, order: { TITLE: 'DESC' }, select: ['TITLE'] }, 'ID', 100),
    ).toEqual({
      filter: { STAGE_ID: 'WON', '>ID': 100 },
      order: { ID: 'ASC' },
      select: ['ID', 'TITLE'],
      start: -1,
    });
  });
});

describe('token bucket', () => {
  it('lets the burst through, then paces at the drain rate (portal clock sped up)', async () => {
    const clock = new PortalClock(50); // 50 portal seconds per real second
    const bucket = new TokenBucket(clock, 2, 10, 0);
    const t0 = clock.now();
    for (let i = 0; i < 10; i++) await bucket.acquire();
    const afterBurst = clock.now() - t0;
    for (let i = 0; i < 10; i++) await bucket.acquire();
    const total = clock.now() - t0;
    expect(afterBurst).toBeLessThan(1); // portal seconds
    expect(total).toBeGreaterThanOrEqual(4.5); // 10 more at 2/s ≈ 5 portal s
    expect(total).toBeLessThan(8);
  });
});
