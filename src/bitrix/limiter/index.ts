/**
 * One limiter per portal, shared by every transport (REST v2, REST 3.0, batch) and every client object of the
 * process that talks to that portal: a token bucket for the request rate, a per-method operating tracker and a
 * concurrency cap. Source: settings/performance/limits.md.
 */
export {
  forgetLimiter,
  type LimiterConfig,
  limiterFor,
  type Permit,
  PortalLimiter,
  type ResponseTime,
} from './manager.js';
export { type LimiterWait, type OperatingTicket, OperatingTracker } from './operating.js';
export { PortalClock, sleep } from './portalClock.js';
export {
  LeasedBucket,
  type LeaseGrant,
  type LeaseRequest,
  type LimiterEvent,
  leasePortalSeconds,
  leaseReserve,
  SCHEDULING_DELAY_S,
  type SharedLearned,
  type SharedLimiterState,
} from './shared.js';
export { PLAN_PRESETS, type PlanName, type RequestBucket, TokenBucket } from './tokenBucket.js';
