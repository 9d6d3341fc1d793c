/**
 * What the pipeline runtime needs from a Bitrix24 client, named for that role. The real client
 * (src/bitrix/client.ts `B24Client`) satisfies it; tests pass in-memory stand-ins typed against it. Every type here
 * is a narrowing of the client's own types (no copies).
 */
import type { BatchCommand, BatchResult } from '../bitrix/batch.js';
import type {
  B24Client,
  CallOptions,
  CallResult,
  ClientStats,
  OperatingOutlook,
  PortalInfo,
} from '../bitrix/client.js';

export type { BatchCommand };

/** What the pipeline reads from a batch answer: results and errors per command key, requests spent. */
export type PipelineBatchAnswer = Partial<Pick<BatchResult, 'results' | 'requests'>> & {
  /** Error per failed command (the real client gives `B24Error`s; the pipeline reads `code` and `message`). */
  errors?: Record<string, unknown>;
};

/**
 * The client surface the runner, planner and applier use: `call` and `batch` always; `list`, `exportAll` and
 * `stats` when the client has them (the real one does; the runner falls back to paging with `call`).
 */
export interface PipelineClient {
  /** The portal talked to: plans and runs record `id`; `plan` sets the cost estimate's request rate. */
  readonly portal?: Pick<PortalInfo, 'id'> & Partial<Pick<PortalInfo, 'kind' | 'plan'>>;
  call<T = unknown>(
    method: string,
    params?: Record<string, unknown> | unknown[],
    opts?: Pick<CallOptions, 'signal' | 'idempotencyKey' | 'version'>,
  ): Promise<Pick<CallResult<T>, 'result' | 'next'>>;
  batch(
    commands: Record<string, BatchCommand>,
    opts?: { halt?: boolean; signal?: AbortSignal },
  ): Promise<PipelineBatchAnswer>;
  list?: B24Client['list'];
  exportAll?: B24Client['exportAll'];
  stats?(): Pick<ClientStats, 'requests'>;
  /** The operating budget as the client sees it; cost estimates account for what is spent already. */
  operatingOutlook?(): OperatingOutlook;
  /** The transport a call takes by default (3 = REST 3.0); absent = always REST 2 (see `B24Client.routeOf`). */
  routeOf?: B24Client['routeOf'];
  /** A REST 3.0 batch of REST 2-shaped commands; undefined answer = send them over REST 2 (`B24Client.batchV3`). */
  batchV3?: B24Client['batchV3'];
}
