/**
 * Incoming-webhook authentication: `https://{portal}/rest/{USER_ID}/{CODE}/{method}`, REST 3.0 under `/rest/api/`.
 * Source: local-integrations/local-webhooks.md, api-reference/rest-v3.md.
 */
import { InvalidInputError } from '../../lib/failures.js';
import { redact, registerSecret } from '../redact.js';
import type { AuthCredentials, AuthProvider } from './provider.js';

/** Parts of a webhook URL. */
export interface WebhookParts {
  origin: string;
  /** Path prefix before `/rest/` (portals under a sub-path), usually ''. */
  prefix: string;
  userId: string;
  code: string;
}

/** The documented shape of an incoming webhook URL (https://apidocs.bitrix24.com/local-integrations/local-webhooks.html). */
const WEBHOOK_SHAPE = 'https://<portal>/rest/<user id>/<code>/';

/**
 * Parses `https://portal/rest/1/abc123/` (trailing slash optional; a trailing method name is tolerated and dropped).
 * @throws InvalidInputError for anything else (the message is redacted)
 */
export function parseWebhookUrl(url: string): WebhookParts {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    // the value is never echoed: whatever its shape, it may hold the webhook's code
    throw new InvalidInputError(`BITRIX_WEBHOOK_URL is not a URL (expected ${WEBHOOK_SHAPE})`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new InvalidInputError(`BITRIX_WEBHOOK_URL must be http(s) (expected ${WEBHOOK_SHAPE})`);
  const m = /^(.*?)\/rest\/(\d+)\/([^/]+)(?:\/.*)?$/.exec(u.pathname);
  if (!m)
    throw new InvalidInputError(
      `BITRIX_WEBHOOK_URL of ${redact(u.origin)} must look like ${WEBHOOK_SHAPE} (the path is not shown: it holds the code)`,
    );
  registerSecret(m[3]!);
  return { origin: u.origin, prefix: m[1]!, userId: m[2]!, code: m[3]! };
}

export class WebhookAuth implements AuthProvider {
  readonly kind = 'webhook' as const;
  readonly refreshes = 0;
  /** Host of the webhook URL when created (stays the same after a domain change, so limits stay shared). */
  readonly portalId: string;
  private parts: WebhookParts;

  constructor(url: string) {
    this.parts = parseWebhookUrl(url);
    this.portalId = new URL(this.parts.origin).host;
  }

  async credentials(): Promise<AuthCredentials> {
    const { origin, prefix, userId, code } = this.parts;
    return {
      v2Base: `${origin}${prefix}/rest/${userId}/${code}/`,
      v3Base: `${origin}${prefix}/rest/api/${userId}/${code}/`,
      portalId: this.portalId,
    };
  }

  async refresh(): Promise<void> {
    // Webhooks have nothing to refresh; an expired webhook is a fatal NO_AUTH_FOUND.
  }

  async changeDomain(newOrigin: string): Promise<void> {
    this.parts = { ...this.parts, origin: new URL(newOrigin).origin };
  }
}
