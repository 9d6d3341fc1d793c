/**
 * The client and sandbox interfaces the pipeline runtime codes against (CONTRACTS.md, owners: CLIENT, SANDBOX),
 * declared structurally so the runtime compiles and unit-tests before those modules land and keeps working with any
 * object of the same shape (tests pass fakes).
 */

/** One command of a batch request. */
export interface BatchCommand {
  method: string;
  params?: Record<string, unknown> | unknown[];
}

/** Result of `client.call`. */
export interface CallResult<T = unknown> {
  result: T;
  total?: number;
  next?: number;
  time?: unknown;
}

/** Result of `client.batch`: per command key, a result or an error. */
export interface BatchResultLike {
  results?: Record<string, unknown>;
  errors?: Record<string, unknown>;
  total?: Record<string, number>;
  next?: Record<string, number>;
}

/** The B24Client surface the runtime uses. */
export interface ClientLike {
  readonly portal?: { id: string; kind?: string; plan?: string };
  call<T = unknown>(
    method: string,
    params?: Record<string, unknown> | unknown[],
    opts?: { signal?: AbortSignal; idempotencyKey?: string },
  ): Promise<CallResult<T>>;
  batch(
    commands: BatchCommand[] | Record<string, BatchCommand>,
    opts?: { halt?: boolean; signal?: AbortSignal },
  ): Promise<BatchResultLike>;
  list?<T = Record<string, unknown>>(
    method: string,
    params?: Record<string, unknown>,
    opts?: unknown,
  ): AsyncIterable<T>;
  exportAll?<T = Record<string, unknown>>(
    method: string,
    params?: Record<string, unknown>,
    opts?: unknown,
  ): AsyncIterable<T[]>;
  stats?(): { requests: number };
  close?(): Promise<void>;
}

/** What `connect()` returns. */
export interface Connection {
  client: ClientLike;
  sandbox?: { webhookUrl: string; baseUrl: string; close(): Promise<void> };
  close(): Promise<void>;
}

/** Signature of src/bitrix/connect.ts `connect`. */
export declare function connect(opts?: {
  env?: NodeJS.ProcessEnv;
  sandbox?: Record<string, unknown>;
  audit?: string | false;
  stderr?: (line: string) => void;
}): Promise<Connection>;
