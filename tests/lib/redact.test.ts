/**
 * The one redaction mechanism (src/lib/redact.ts): every secret kind b24flow handles is tested here once — by shape
 * (pattern table), by registration (exact values learned at run time) and by key name (redactDeep).
 */
import { describe, expect, it } from 'vitest';
import * as viaClient from '../../src/bitrix/redact.js';
import {
  isSecretKey,
  MASK,
  REDACTION_PATTERNS,
  redact,
  redactDeep,
  registerEnvSecrets,
  registerSecret,
  registerSecrets,
} from '../../src/lib/redact.js';

/** [kind, text containing the secret, the secret, what must stay] — one line per secret kind. */
const CASES: Array<[string, string, string, string]> = [
  [
    'webhook code in a URL',
    'POST https://x.bitrix24.com/rest/1/abcdef123456/crm.deal.list',
    'abcdef123456',
    `/rest/1/${MASK}/crm.deal.list`,
  ],
  [
    'webhook code in a REST 3.0 URL',
    'https://x.bitrix24.com/rest/api/7/zzzzyyyy1234/tasks.task.get',
    'zzzzyyyy1234',
    `/rest/api/7/${MASK}/`,
  ],
  ['access token in a query', 'GET /rest/profile?auth=tok-ABCDEF123456&x=1', 'tok-ABCDEF123456', `auth=${MASK}&x=1`],
  [
    'access token in JSON text',
    '{"access_token":"tok-XYZ987654","expires_in":3600}',
    'tok-XYZ987654',
    `"access_token":"${MASK}"`,
  ],
  [
    'refresh token in a form',
    'grant_type=refresh_token&refresh_token=ref-123456789',
    'ref-123456789',
    `refresh_token=${MASK}`,
  ],
  [
    'client secret in a query',
    '/oauth/token/?client_id=local.1&client_secret=cs-9876543210',
    'cs-9876543210',
    'client_id=local.1',
  ],
  [
    'application_token in an event form',
    'event=ONCRMDEALADD&auth[application_token]=apptok-55555&auth[member_id]=m1',
    'apptok-55555',
    `auth[application_token]=${MASK}`,
  ],
  ['Bearer header', 'Authorization: Bearer abcdef.ghijkl', 'abcdef.ghijkl', `Bearer ${MASK}`],
  [
    'Telegram bot token in an API URL',
    'https://api.telegram.org/bot123456789:AAFakeTokenForTestsOnly_abcdefghijklmnop/getMe',
    '123456789:AAFakeTokenForTestsOnly_abcdefghijklmnop',
    `/bot${MASK}/getMe`,
  ],
  [
    'OpenAI key',
    'openai: 401 Incorrect API key provided: sk-proj-AbCdEf0123456789XyZ',
    'sk-proj-AbCdEf0123456789XyZ',
    'Incorrect API key provided: ***',
  ],
  [
    'X-API-Key header',
    'POST /chat X-API-Key: k3y-value-for-api-1 from 127.0.0.1',
    'k3y-value-for-api-1',
    `X-API-Key: ${MASK}`,
  ],
  ['link code', '{"kind":"message","text":"/link 48213907"}', '48213907', `/link ${MASK}"`],
  ['link code with a bot name', '/link@b24flow_bot 48213907', '48213907', `/link@b24flow_bot ${MASK}`],
];

describe('redact(text): one pattern table', () => {
  for (const [kind, text, secret, kept] of CASES) {
    it(`masks a ${kind}`, () => {
      const out = redact(text);
      expect(out).not.toContain(secret);
      expect(out).toContain(kept);
    });
  }

  it('every pattern of the table is exercised by a case above', () => {
    for (const [name, re] of REDACTION_PATTERNS) {
      const hit = CASES.some(([, text]) => {
        re.lastIndex = 0;
        return re.test(text);
      });
      re.lastIndex = 0;
      expect(hit, name).toBe(true);
    }
  });

  it('leaves ordinary text alone', () => {
    const text =
      'crm.deal.add ASSIGNED_BY_ID=5 at 12:30:45, event ONCRMDEALADD:7405, /rest/1 path, key prompt_tokens=12';
    expect(redact(text)).toBe(text);
  });

  it('masks registered secrets wherever they appear (client secret, HTTP_API_TOKENS lists, env)', () => {
    registerSecret('s3cr3t-client-secret-value');
    registerSecrets(['api-token-one-111, api-token-two-222']);
    registerEnvSecrets({
      OPENAI_API_KEY: 'plainkey-without-prefix-777',
      BITRIX_WEBHOOK_URL: 'https://p.example/rest/9/hookcode999/',
    });
    const out = redact(
      'secret is s3cr3t-client-secret-value; tokens api-token-one-111 api-token-two-222; plainkey-without-prefix-777; hookcode999',
    );
    for (const s of [
      's3cr3t-client-secret-value',
      'api-token-one-111',
      'api-token-two-222',
      'plainkey-without',
      'hookcode999',
    ])
      expect(out).not.toContain(s);
    registerSecret('short'); // < 6 characters: ignored, ordinary words survive
    expect(redact('a short word')).toBe('a short word');
  });

  it('is the same mechanism through src/bitrix/redact.ts', () => {
    expect(viaClient.redact).toBe(redact);
    expect(viaClient.redactDeep).toBe(redactDeep);
    expect(viaClient.registerSecret).toBe(registerSecret);
  });
});

describe('redactDeep(value)', () => {
  it('masks values under secret keys, whole objects included, and redacts strings', () => {
    expect(
      redactDeep({
        auth: { access_token: 'x', member_id: 'm' },
        access_token: 'tok-1234567',
        nested: [{ client_secret: 'abc', refresh_token: 'r1234567' }],
        headers: { 'x-api-key': 'k1', 'content-type': 'application/json' },
        env: { TELEGRAM_BOT_TOKEN: '1:2', OPENAI_API_KEY: 'k', B24_CLIENT_ID: 'local.1' },
        url: 'https://x.bitrix24.com/rest/1/abcdef123456/profile',
        code: 'QUERY_LIMIT_EXCEEDED',
        usage: { prompt_tokens: 120, max_tokens: 500 },
        application_token: '',
        ok: true,
      }),
    ).toEqual({
      auth: MASK,
      access_token: MASK,
      nested: [{ client_secret: MASK, refresh_token: MASK }],
      headers: { 'x-api-key': MASK, 'content-type': 'application/json' },
      env: { TELEGRAM_BOT_TOKEN: MASK, OPENAI_API_KEY: MASK, B24_CLIENT_ID: 'local.1' },
      url: `https://x.bitrix24.com/rest/1/${MASK}/profile`,
      code: 'QUERY_LIMIT_EXCEEDED',
      usage: { prompt_tokens: 120, max_tokens: 500 },
      application_token: '',
      ok: true,
    });
  });

  it('turns errors into plain redacted objects and cuts cycles', () => {
    const err = Object.assign(new Error('failed: /rest/1/abcdef123456/x'), { auth: 'tok' });
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    expect(redactDeep({ err, cyc })).toEqual({
      err: { name: 'Error', message: `failed: /rest/1/${MASK}/x`, auth: MASK },
      cyc: { a: 1, self: '[circular]' },
    });
  });

  it('recognises secret key names', () => {
    for (const k of [
      'auth',
      'Authorization',
      'access_token',
      'application_token',
      'clientSecret',
      'X-API-Key',
      'password',
      'webhookUrl',
    ])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of ['member_id', 'max_tokens', 'key', 'idempotencyKey', 'domain', 'tokens'])
      expect(isSecretKey(k), k).toBe(false);
  });
});
