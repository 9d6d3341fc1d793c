/**
 * The sandbox portal: a local Bitrix24 REST emulator used as the embedded default of every command, and the
 * ground of every test and benchmark. Facts: rest-protocol.md (§13 checklist); official docs bitrix24/b24restdocs.
 *
 * Emulated: webhook `/rest/{user}/{code}/{method}[.json|.xml]` with per-webhook scopes, OAuth `/rest/{method}`
 * (`auth` in query or body), REST 3.0 `/rest/api/…` for tasks.task.* (JSON only, Idempotency-Key replay, v3 batch);
 * case-insensitive names; query/JSON/urlencoded/multipart with PHP brackets; positional task.*item.* params;
 * envelopes (`total`/`next` on lists only, `time` with operating fields, PHP `[]` empties, legacy string scalars,
 * typed camelCase crm.item.*, `{task}`/`{tasks}`); every error dialect with its status; leaky bucket per portal+IP
 * (standard/enterprise/unlimited) → 503; per-method operating budget in ten one-minute baskets → 429; clock
 * speed-up; 50-row lists with every filter prefix, order, select `*`/`UF_*`, `logic: OR` (crm.item.list), start /
 * start=-1 / keyset; batch (≤ 50, halt, `$result[…]`, result_* sections, nested batch refused); event.bind/unbind/
 * get (app only), online form-encoded delivery without retries, outgoing webhooks, offline queue (latest state per
 * object, clear=0 + process_id, clear, error, list, 30-day reservations, auth_connector, ONOFFLINEEVENT); OAuth
 * authorize/token with rotating refresh tokens and expiring access tokens, ONAPPINSTALL; one OAuth server in front
 * of several portals that installs one application on each (oauthHub.ts: install callback or install page); simulated activity;
 * injected faults; --data persistence (atomic NDJSON snapshot); https with a self-signed certificate.
 *
 * Methods outside the method table answer 404 ERROR_METHOD_NOT_FOUND ("not emulated" for documented-looking names);
 * docs conformance: scripts/conformance/ and tests/sandbox/conformance.test.ts (README "Docs conformance").
 *
 * Knowingly not emulated: user permissions / access rights (every user sees everything), per-scope field sets of
 * user.current, webhook expiry dates, portal domain moves (302), phone-number normalisation beyond digits, LIKE
 * restrictions on typed CRM fields, smart processes (entityTypeId ≥ 1030) and invoices, files/disk content,
 * business-process execution, REST 3.0 beyond tasks.task.* and rest.scope.list, `rest.documentation.openapi`, the 60 s hard request
 * timeout, OVERLOAD_LIMIT, METHOD_CONFIRM_*, delivery from a remote queue (events go out at once, in process).
 *
 * This module only re-exports: start.ts starts a portal, remote.ts reaches a running one over HTTP, handle.ts holds
 * the shapes of a running one, oauthHub.ts is the shared OAuth server of several.
 */
export type {
  OAuthTokens,
  SandboxAddress,
  SandboxAdmin,
  SandboxEndpoint,
  SandboxHandle,
  SandboxNotification,
  SandboxOptions,
} from './handle.js';
export type { Plan } from './limits.js';
export type { InstallKind, InstallRequest, OAuthHub, OAuthHubOptions } from './oauthHub.js';
export { startOAuthHub } from './oauthHub.js';
export { sandboxEndpoint } from './remote.js';
export { dealsFor, startSandbox } from './start.js';
