/**
 * Runs N limiter worker processes (./limiterWorker.ts) at once against one sandbox portal and sums what they and the
 * portal saw: requests, 503 / 429 at the portal, the aggregate rate against the plan's allowance, DB round trips.
 * Shared by tests/store/limiter.test.ts and bench/scale-limiter.bench.ts.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** What one worker printed. */
export interface WorkerReport {
  requests: number;
  status503: number;
  status429: number;
  lease: { takes: number; granted: number; expired: number; degraded: boolean };
  t0: number;
  t1: number;
}

const worker = join(import.meta.dirname, 'limiterWorker.ts');

/** Spawns one worker with `env` sending `calls` calls; resolves with its report. @throws when it exits non-zero */
export function runWorker(env: NodeJS.ProcessEnv, calls: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, String(calls)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`limiter worker exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerReport);
      } catch {
        reject(new Error(`limiter worker printed no report: ${out.slice(-500)} ${err.slice(-1000)}`));
      }
    });
  });
}

/** The plan's allowance for a window: what a fresh bucket accepts in `portalSeconds` (burst + drain × time). */
export function allowance(plan: { drain: number; burst: number }, portalSeconds: number): number {
  return plan.burst + plan.drain * portalSeconds;
}
