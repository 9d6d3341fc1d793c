/**
 * The Bitrix24 client package (re-exports only): `connect()` from explicit portal settings, {@link B24Client} for calls, batches, keyset lists
 * and fast exports, typed errors, redaction and the shared per-portal limiter.
 */
export { type AuditRecord, type AuditSink, FileAudit, MemoryAudit, paramKeys } from './audit.js';
export { keepTokensFresh, type TokenKeeper, type TokenKeeperOptions } from './auth/keeper.js';
export { type OAuthApp, OAuthAuth, tokensFromAnswer } from './auth/oauth.js';
export type { AuthCredentials, AuthProvider } from './auth/provider.js';
export { PortalRegistry } from './auth/registry.js';
export {
  MemoryTokenStore,
  type PortalTokens,
  registerTokenSecrets,
  type TokenStore,
} from './auth/tokenStore.js';
export { parseWebhookUrl, WebhookAuth } from './auth/webhook.js';
export {
  BATCH_LIMIT,
  BatchBuilder,
  type BatchCommand,
  BatchHandle,
  BatchRef,
  type BatchResult,
} from './batch.js';
export { heuristicRisk, type MethodInfo, methodInfo } from './catalogInfo.js';
export {
  B24Client,
  type CallObservation,
  type CallObserver,
  type CallOptions,
  type CallResult,
  type ClientOptions,
  type ClientStats,
  type OperatingOutlook,
  type PortalInfo,
  type ResponseTime,
} from './client.js';
export {
  type Connection,
  type ConnectOptions,
  clientForPortal,
  connect,
  describePortal,
  type PortalSettings,
  registryFor,
} from './connect.js';
export { decodeParams, encodeParams } from './encode.js';
export type { ExportOptions, ExportProgress } from './export.js';
export {
  forgetLimiter,
  type LeaseGrant,
  type LeaseRequest,
  type LimiterConfig,
  type LimiterEvent,
  limiterFor,
  PortalLimiter,
  type SharedLearned,
  type SharedLimiterState,
} from './limiter/index.js';
export type { ListOptions, ListParams, ListProgress } from './list.js';
export { redact, redactDeep, registerSecret } from './redact.js';
export * from './restErrors.js';
export { hasV3Translation, isV3Missing, processV3Memory, toV3Call, type V3Call, type V3Memory } from './restV3.js';
