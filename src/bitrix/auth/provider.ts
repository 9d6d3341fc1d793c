/**
 * Authentication providers: what URL a call goes to and which credentials it carries.
 * Source: settings/how-to-call-rest-api/authorization.md, local-integrations/local-webhooks.md, api-reference/rest-v3.md.
 */

/** Credentials for one request. */
export interface AuthCredentials {
  /** Base URL of REST v2 methods, ending with `/` (method name appended). */
  v2Base: string;
  /** Base URL of REST 3.0 methods, ending with `/`. */
  v3Base: string;
  /** OAuth access token to send as `auth` (absent for webhooks). */
  accessToken?: string;
  /** The portal these credentials belong to (member_id for OAuth, host for webhooks). */
  portalId: string;
}

/** Something that authenticates requests to exactly one portal. */
export interface AuthProvider {
  readonly kind: 'webhook' | 'oauth';
  /** member_id (OAuth) or host of the webhook URL. */
  readonly portalId: string;
  credentials(): Promise<AuthCredentials>;
  /**
   * Refreshes after a 401 `expired_token` answered a request that used `staleToken`. Single-flight: concurrent
   * callers share one refresh; a caller whose token was already replaced returns at once.
   */
  refresh(staleToken: string | undefined): Promise<void>;
  /** The portal moved (HTTP 302): switch to the new origin (`https://new.example.com`). */
  changeDomain(newOrigin: string): Promise<void>;
  /** Number of refreshes performed. */
  readonly refreshes: number;
}
