/**
 * Size caps of the log files, read from the environment by the composition root: the audit log
 * (`B24FLOW_AUDIT_MAX_MB`) and serve's log file (`B24FLOW_LOG_MAX_MB`).
 */
import { InvalidInputError } from '../lib/failures.js';

/**
 * The audit log's size cap (`B24FLOW_AUDIT_MAX_MB`, default 100 MB; fractions allowed): past it `calls.jsonl` rotates
 * to `calls.1.jsonl` (5 files kept, see `FileAudit`).
 * @throws InvalidInputError for a value that is not a positive number
 */
export function auditMaxBytesOf(env: NodeJS.ProcessEnv): number {
  return megabytesOf(env, 'B24FLOW_AUDIT_MAX_MB', 100);
}

/**
 * A size in megabytes from the environment, in bytes (fractions allowed: tests set tiny caps).
 * @throws InvalidInputError for a value that is not a positive number
 */
export function megabytesOf(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return Math.round(fallback * 1024 * 1024);
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidInputError(`${name} must be a positive number (MB), got "${v}"`);
  return Math.max(1, Math.round(n * 1024 * 1024));
}
