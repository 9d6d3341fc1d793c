/**
 * Typed errors for every Bitrix24 error dialect.
 *
 * Dialects (source: settings/how-to-call-rest-api/error-codes.md, _includes/system-errors.md, api-reference/rest-v3.md):
 * - `system`: rest-module codes in upper case (`QUERY_LIMIT_EXCEEDED`, `NO_AUTH_FOUND`, `ACCESS_DENIED`, ...);
 * - `legacy-crm`: `crm.deal/lead/contact/company.*` answer an empty code and only a text (`"error": ""`);
 * - `d7`: controller methods (`crm.item.*`, `tasks.task.*`) with codes like `NOT_FOUND` or numeric strings `"100"`;
 * - `v3`: REST 3.0 `{error: {code, message, validation}}`;
 * - `oauth`: lower-case OAuth codes (`expired_token`, `invalid_grant`, `insufficient_scope`, ...);
 * - `http`: no Bitrix24 envelope at all (HTML page, proxy error, network failure, redirect loop).
 *
 * Every error message is redacted: it never carries a webhook code or a token.
 */
import { redact } from './redact.js';

/** Where an error came from (see module doc). */
export type ErrorDialect = 'system' | 'legacy-crm' | 'd7' | 'v3' | 'oauth' | 'http';

/** One REST 3.0 validation problem. */
export interface ValidationIssue {
  field?: string;
  message: string;
}

/** Fields accepted by every {@link B24Error} constructor. */
export interface B24ErrorInit {
  code: string;
  status: number;
  method: string;
  dialect: ErrorDialect;
  description?: string;
  hint?: string;
  retryable?: boolean;
  validation?: ValidationIssue[];
  /** Portal time (Unix s) until which a parked method stays blocked (429). */
  resetAt?: number;
  cause?: unknown;
}

/**
 * Base class of every error the client throws for a Bitrix24 answer.
 * - `code`: the portal's code (`''` for legacy CRM errors, `HTTP_<status>` / `NETWORK` when there is no envelope);
 * - `status`: HTTP status (0 for network errors);
 * - `retryable`: whether the same request may be sent again unchanged (the retry policy still decides about writes);
 * - `hint`: what the user should do (remediation), when we know it.
 */
export class B24Error extends Error {
  readonly code: string;
  readonly status: number;
  readonly method: string;
  readonly dialect: ErrorDialect;
  readonly description: string;
  readonly hint?: string;
  readonly retryable: boolean;
  readonly validation?: ValidationIssue[];
  readonly resetAt?: number;

  constructor(init: B24ErrorInit) {
    const desc = redact(init.description ?? '');
    const code = init.code === '' ? '(empty code)' : init.code;
    const msg = `${init.method || 'request'}: ${code}${desc ? ` — ${desc}` : ''}${init.status ? ` (HTTP ${init.status})` : ''}${init.hint ? `. ${init.hint}` : ''}`;
    super(redact(msg), init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.method = init.method;
    this.dialect = init.dialect;
    this.description = desc;
    if (init.hint !== undefined) this.hint = init.hint;
    this.retryable = init.retryable ?? false;
    if (init.validation) this.validation = init.validation;
    if (init.resetAt !== undefined) this.resetAt = init.resetAt;
  }

  /** A plain, redacted object for logs and `--json` output. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      method: this.method,
      dialect: this.dialect,
      description: this.description,
      hint: this.hint,
      retryable: this.retryable,
      ...(this.validation ? { validation: this.validation } : {}),
    };
  }
}

/** 503 `QUERY_LIMIT_EXCEEDED`: the portal's request bucket overflowed (limits.md). Retried after drain + backoff. */
export class QueryLimitExceeded extends B24Error {}
/** 429 `OPERATION_TIME_LIMIT`: the method's 10-minute operating budget is spent (limits.md). Parked until reset. */
export class OperationTimeLimit extends B24Error {}
/** 503 `OVERLOAD_LIMIT`: the portal was blocked manually by Bitrix24 support. Fatal. */
export class OverloadLimit extends B24Error {}
/** 401 `expired_token`: OAuth access token expired; the client refreshes once and retries. */
export class ExpiredToken extends B24Error {}
/** 401 `NO_AUTH_FOUND` / `invalid_token`: wrong webhook code or token. */
export class NoAuthFound extends B24Error {}
/** 403 `insufficient_scope`: the webhook / app lacks the method's scope. */
export class InsufficientScope extends B24Error {}
/** 403 `WRONG_AUTH_TYPE`: the method needs an OAuth application context, not a webhook. */
export class WrongAuthType extends B24Error {}
/** 404 `ERROR_METHOD_NOT_FOUND`: no such method (or a REST 3.0-only method called through v2). */
export class MethodNotFound extends B24Error {}
/** 403 `ACCESS_DENIED` / `INVALID_CREDENTIALS` / `user_access_error`: the user has no right to do this. */
export class AccessDenied extends B24Error {}
/** Record not found (`NOT_FOUND`, `ERROR_NOT_FOUND`, legacy "Not found", v3 `ENTITYNOTFOUNDEXCEPTION`). */
export class NotFound extends B24Error {}
/** Invalid arguments (`ERROR_ARGUMENT`, `INVALID_ARG_VALUE`, legacy CRM texts, v3 validation). */
export class InvalidArgument extends B24Error {}
/** `PAYMENT_REQUIRED`: the app's subscription expired. */
export class PaymentRequired extends B24Error {}
/** OAuth server refusal (`invalid_grant`, `invalid_client`, ...): the app must be re-installed or re-configured. */
export class OAuthError extends B24Error {}
/** Batch-level refusal (`ERROR_BATCH_LENGTH_EXCEEDED`, `ERROR_BATCH_METHOD_NOT_ALLOWED`), also raised before sending. */
export class BatchError extends B24Error {}
/** 5xx without a known code (`INTERNAL_SERVER_ERROR`, `ERROR_UNEXPECTED_ANSWER`, gateway errors). */
export class ServerError extends B24Error {}
/** The answer was not a Bitrix24 JSON envelope (HTML error page, proxy page, truncated body). */
export class NonJsonResponse extends B24Error {}
/** The request never got an answer (connection reset, refused, timeout). */
export class NetworkError extends B24Error {}
/** A call for one portal was about to carry credentials of another portal; refused before sending. */
export class TenantIsolationError extends B24Error {}
/** The portal answered with a code we do not know; kept with its dialect and text. */
export class UnknownB24Error extends B24Error {}

type Ctor = new (init: B24ErrorInit) => B24Error;

interface CodeInfo {
  ctor: Ctor;
  retryable?: boolean;
  hint?: (ctx: HintContext) => string | undefined;
}

/** Context used to word remediation hints. */
export interface HintContext {
  method: string;
  /** `webhook` or `oauth` when known. */
  authKind?: 'webhook' | 'oauth';
  /** Scope the method needs (from the catalog), when known. */
  scope?: string;
}

const scopeHint = (c: HintContext) =>
  c.scope
    ? `Add scope \`${c.scope}\` to the ${c.authKind === 'oauth' ? 'application' : 'webhook'} (Developer resources → ${c.authKind === 'oauth' ? 'application settings' : 'incoming webhook'})`
    : `Add the method's scope (the first part of \`${c.method}\`) to the ${c.authKind === 'oauth' ? 'application' : 'webhook'}`;

/** Known codes → class, retryability and remediation hint. Codes compare case-sensitively first, then upper-cased. */
const CODES: Record<string, CodeInfo> = {
  QUERY_LIMIT_EXCEEDED: { ctor: QueryLimitExceeded, retryable: true },
  OPERATION_TIME_LIMIT: { ctor: OperationTimeLimit, retryable: true },
  OVERLOAD_LIMIT: {
    ctor: OverloadLimit,
    hint: () => 'The portal was blocked by Bitrix24 support for overload; contact support before retrying',
  },
  expired_token: { ctor: ExpiredToken, retryable: true },
  invalid_token: {
    ctor: NoAuthFound,
    hint: () => 'The access token is invalid; re-install the application or check B24_CLIENT_ID/B24_CLIENT_SECRET',
  },
  NO_AUTH_FOUND: {
    ctor: NoAuthFound,
    hint: (c) =>
      c.authKind === 'oauth'
        ? 'The portal rejected the token; re-install the application'
        : 'The webhook code is wrong, expired or deleted; create a new incoming webhook and set BITRIX_WEBHOOK_URL',
  },
  insufficient_scope: { ctor: InsufficientScope, hint: scopeHint },
  INSUFFICIENT_SCOPE: { ctor: InsufficientScope, hint: scopeHint },
  WRONG_AUTH_TYPE: {
    ctor: WrongAuthType,
    hint: () =>
      'This method needs an OAuth application (B24_CLIENT_ID/B24_CLIENT_SECRET), not a webhook; install a local application',
  },
  ERROR_METHOD_NOT_FOUND: {
    ctor: MethodNotFound,
    hint: (c) =>
      `Check the method name \`${c.method}\` (see \`b24flow catalog search\`); REST 3.0-only methods need /rest/api/`,
  },
  ACCESS_DENIED: {
    ctor: AccessDenied,
    hint: () => 'The user behind the webhook/app lacks rights for this action (or REST is unavailable on this plan)',
  },
  INVALID_CREDENTIALS: {
    ctor: AccessDenied,
    hint: () => 'The user behind the webhook/app lacks permissions for this action',
  },
  user_access_error: {
    ctor: AccessDenied,
    hint: () => 'The application is restricted to other users; ask the admin to grant access',
  },
  METHOD_CONFIRM_WAITING: {
    ctor: AccessDenied,
    hint: () => 'A portal administrator must confirm access to this method first',
  },
  METHOD_CONFIRM_DENIED: { ctor: AccessDenied, hint: () => 'A portal administrator denied access to this method' },
  PAYMENT_REQUIRED: { ctor: PaymentRequired, hint: () => 'The application subscription has expired; renew it' },
  PORTAL_DELETED: { ctor: AccessDenied, hint: () => 'The portal was deleted' },
  invalid_grant: {
    ctor: OAuthError,
    hint: () => 'The refresh token is expired or already used; re-install the application to obtain new tokens',
  },
  invalid_client: {
    ctor: OAuthError,
    hint: () => 'B24_CLIENT_ID / B24_CLIENT_SECRET are wrong for this portal',
  },
  invalid_request: { ctor: OAuthError },
  invalid_scope: { ctor: InsufficientScope, hint: scopeHint },
  bad_verification_code: {
    ctor: OAuthError,
    hint: () => 'The authorization code expired (30 s) or was used; authorize again',
  },
  INVALID_REQUEST: { ctor: InvalidArgument, hint: () => 'Use https:// in the portal address' },
  ERROR_BATCH_LENGTH_EXCEEDED: { ctor: BatchError },
  ERROR_BATCH_METHOD_NOT_ALLOWED: { ctor: BatchError },
  ERROR_ARGUMENT: { ctor: InvalidArgument },
  INVALID_ARG_VALUE: { ctor: InvalidArgument },
  ERROR_CORE: { ctor: InvalidArgument },
  ERROR_NOT_FOUND: { ctor: NotFound },
  NOT_FOUND: { ctor: NotFound },
  INTERNAL_SERVER_ERROR: { ctor: ServerError, retryable: true },
  ERROR_UNEXPECTED_ANSWER: { ctor: ServerError, retryable: true },
};

const V3_PREFIX = 'BITRIX_REST_V3_EXCEPTION_';
const V3_CODES: Record<string, Ctor> = {
  ACCESSDENIEDEXCEPTION: AccessDenied,
  INSUFFICIENTSCOPEEXCEPTION: InsufficientScope,
  ENTITYNOTFOUNDEXCEPTION: NotFound,
  VALIDATION_REQUESTVALIDATIONEXCEPTION: InvalidArgument,
  INVALIDJSONEXCEPTION: InvalidArgument,
  UNKNOWNDTOPROPERTYEXCEPTION: InvalidArgument,
  UNKNOWNFILTEROPERATOREXCEPTION: InvalidArgument,
  INVALIDPAGINATIONEXCEPTION: InvalidArgument,
  INVALIDORDEREXCEPTION: InvalidArgument,
  INVALIDSELECTEXCEPTION: InvalidArgument,
  INVALIDIDEMPOTENCYKEYEXCEPTION: InvalidArgument,
  IDEMPOTENCYKEYREUSEDEXCEPTION: InvalidArgument,
};

const OAUTH_CODES = new Set([
  'expired_token',
  'invalid_token',
  'invalid_grant',
  'invalid_client',
  'invalid_request',
  'invalid_scope',
  'insufficient_scope',
  'bad_verification_code',
  'user_access_error',
]);

/** Classifies a code into its dialect (`''` → legacy CRM, digits → D7, lower-case OAuth codes → oauth). */
export function dialectOf(code: string, method = ''): ErrorDialect {
  if (code === '') return 'legacy-crm';
  if (code.startsWith(V3_PREFIX)) return 'v3';
  if (OAUTH_CODES.has(code)) return 'oauth';
  if (/^\d+$/.test(code)) return 'd7';
  if (code in CODES) return 'system';
  if (/^(crm\.item|crm\.category|tasks\.|crm\.activity\.todo|crm\.type|booking|catalog)/i.test(method)) return 'd7';
  return 'system';
}

/**
 * Builds the typed error for one error envelope.
 *
 * @param status HTTP status of the answer (200 for batch sub-call errors)
 * @param code `error` of a v1 envelope, or v3 `error.code`
 * @param description `error_description` / v3 `error.message`
 * @param ctx method and auth kind, for the hint
 */
export function errorFromCode(
  status: number,
  code: string,
  description: string,
  ctx: HintContext,
  extra: { validation?: ValidationIssue[]; resetAt?: number } = {},
): B24Error {
  const dialect = dialectOf(code, ctx.method);
  const base: Omit<B24ErrorInit, 'code' | 'dialect'> = { status, method: ctx.method, description, ...extra };
  if (dialect === 'v3') {
    const short = code.slice(V3_PREFIX.length);
    const ctor = V3_CODES[short] ?? (status >= 500 ? ServerError : UnknownB24Error);
    const hint = ctor === InsufficientScope ? scopeHint(ctx) : undefined;
    return new ctor({ ...base, code, dialect, retryable: status >= 500, ...(hint ? { hint } : {}) });
  }
  if (dialect === 'legacy-crm') {
    const d = description.toLowerCase();
    const ctor = d.includes('not found')
      ? NotFound
      : d.includes('access denied')
        ? AccessDenied
        : status >= 500
          ? ServerError
          : InvalidArgument;
    return new ctor({ ...base, code, dialect, retryable: status >= 500 });
  }
  const info = CODES[code] ?? CODES[code.toUpperCase()];
  if (info) {
    const hint = info.hint?.(ctx);
    return new info.ctor({ ...base, code, dialect, retryable: info.retryable ?? false, ...(hint ? { hint } : {}) });
  }
  if (status === 404 && /method/i.test(description))
    return new MethodNotFound({ ...base, code, dialect, retryable: false });
  if (/not.?found/i.test(code)) return new NotFound({ ...base, code, dialect });
  if (/access|denied|forbidden/i.test(code)) return new AccessDenied({ ...base, code, dialect });
  if (status >= 500) return new ServerError({ ...base, code, dialect, retryable: true });
  return new UnknownB24Error({ ...base, code, dialect });
}

/**
 * Builds the typed error for a non-2xx or error-carrying HTTP answer.
 *
 * @param status HTTP status
 * @param body parsed JSON body, or `undefined` when the body was not JSON
 * @param rawText the raw body (used only for a short, redacted excerpt of HTML/non-JSON answers)
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  rawText: string,
  ctx: HintContext,
  extra: { resetAt?: number } = {},
): B24Error {
  if (body && typeof body === 'object' && 'error' in body) {
    const b = body as { error: unknown; error_description?: unknown };
    if (b.error && typeof b.error === 'object') {
      const e = b.error as { code?: unknown; message?: unknown; validation?: unknown };
      const validation = Array.isArray(e.validation)
        ? e.validation.map((v: any) => ({
            ...(v?.field !== undefined ? { field: String(v.field) } : {}),
            message: String(v?.message ?? ''),
          }))
        : undefined;
      return errorFromCode(status, String(e.code ?? ''), String(e.message ?? ''), ctx, {
        ...(validation ? { validation } : {}),
        ...extra,
      });
    }
    return errorFromCode(status, String(b.error ?? ''), String(b.error_description ?? ''), ctx, extra);
  }
  const excerpt = rawText
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 160);
  const retryable = status >= 500 || status === 0;
  if (body === undefined) {
    return new NonJsonResponse({
      code: `HTTP_${status}`,
      status,
      method: ctx.method,
      dialect: 'http',
      description: `not a Bitrix24 JSON answer${excerpt ? `: ${excerpt}` : ''}`,
      retryable,
      hint:
        status === 200 || status === 404
          ? 'Check that the portal address (BITRIX_WEBHOOK_URL) points at /rest/ of a Bitrix24 portal'
          : undefined,
    });
  }
  const Ctor = status >= 500 ? ServerError : UnknownB24Error;
  return new Ctor({
    code: `HTTP_${status}`,
    status,
    method: ctx.method,
    dialect: 'http',
    description: excerpt,
    retryable,
  });
}

/** True for an error that means "nothing was executed": safe to resend even for writes. */
export function isRejectedBeforeExecution(err: unknown): boolean {
  return (
    err instanceof QueryLimitExceeded ||
    err instanceof OperationTimeLimit ||
    err instanceof ExpiredToken ||
    err instanceof TenantIsolationError
  );
}
