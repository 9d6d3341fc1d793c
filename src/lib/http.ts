/**
 * The HTTP server of `b24flow serve`: a tiny router on `node:http`.
 *
 * Routes are matched on method and a path pattern with `:name` parameters (`/runs/:id`). Request bodies are
 * never read by the router itself; handlers call {@link readBody}, which enforces `maxBodyBytes` while streaming
 * (413 when over) and a read deadline `bodyTimeoutMs` (408); Node's own `requestTimeout`/`headersTimeout` bound the
 * whole request. Unknown paths answer 404, known paths with another method 405, handler crashes 500 without
 * internal details. {@link clientAddressOf} resolves the client's address behind trusted reverse proxies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, BlockList, isIP } from 'node:net';

/** One route: `path` is exact or has `:param` segments, e.g. `/runs/:id`. */
export interface Route {
  method: string;
  path: string;
  handler(req: IncomingMessage, res: ServerResponse, params: Record<string, string>): Promise<void> | void;
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** TCP port; 0 = a free port (default 0). */
  port?: number;
  /** Bind address, default 127.0.0.1. */
  host?: string;
  routes: Route[];
  /**
   * Largest accepted request body in bytes (default 1 MiB = 1 048 576). Enforced by {@link readBody} while the body
   * streams in, so a chunked body without `Content-Length` is cut off at the limit too: 413 with
   * `{error: "PAYLOAD_TOO_LARGE"}`, the rest of the body is dropped and the connection closed within 1 s unless the
   * client ends the body ({@link refuseBody}).
   */
  maxBodyBytes?: number;
  /**
   * Read deadline of a request body in ms (default 30 000), counted from the moment the handler starts reading it
   * ({@link readBody}); a body still incomplete then gets 408 `{error: "REQUEST_TIMEOUT"}` and the connection is
   * closed, so a client trickling bytes cannot hold a handler forever. Also the read deadline of the online event
   * endpoint and any other route that calls {@link readBody}.
   */
  bodyTimeoutMs?: number;
  /**
   * Node's `server.requestTimeout` in ms (default 60 000): the whole request, headers and body, must arrive within
   * this time of the connection's request start, else Node answers 408 and closes the connection. 0 disables it.
   */
  requestTimeoutMs?: number;
  /** Node's `server.headersTimeout` in ms (default 30 000, at most `requestTimeoutMs`): time to receive the headers. */
  headersTimeoutMs?: number;
  /** Called with one line per rejected or failed request (no secrets: path and reason only). */
  log?: (line: string) => void;
}

/** A running server: its base URL (`http://host:port`) and `close()` (stops accepting, ends idle sockets). */
export interface HttpServerHandle {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Thrown by {@link readBody} when the body is over the limit; the router answers 413. */
export class BodyTooLargeError extends Error {
  /** HTTP status and the `error` code of the JSON answer. */
  readonly status = 413;
  readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`request body over ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Thrown by {@link readBody} when the body did not arrive within the read deadline; the router answers 408. */
export class BodyTimeoutError extends Error {
  /** HTTP status and the `error` code of the JSON answer. */
  readonly status = 408;
  readonly code = 'REQUEST_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`request body not received within ${timeoutMs} ms`);
    this.name = 'BodyTimeoutError';
  }
}

/** Thrown by {@link readBody} when the client went away before the body was complete (nothing can be answered). */
export class BodyAbortedError extends Error {
  constructor() {
    super('request aborted by the client while sending the body');
    this.name = 'BodyAbortedError';
  }
}

/** An error of {@link readBody} that has an HTTP answer (413 or 408), see {@link refuseBody}. */
export type BodyError = BodyTooLargeError | BodyTimeoutError;

/** True for the errors of {@link readBody} that {@link refuseBody} answers. */
export function isBodyError(err: unknown): err is BodyError {
  return err instanceof BodyTooLargeError || err instanceof BodyTimeoutError;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** After a refused body's answer is flushed, how long (ms) the socket may stay open before it is destroyed. */
const CLOSE_GRACE_MS = 1_000;

const bodyLimits = new WeakMap<IncomingMessage, { maxBytes: number; timeoutMs: number }>();

/**
 * Reads the whole request body, at most `limit` bytes (default: the server's `maxBodyBytes`, else 1 MiB) and within
 * `timeoutMs` ms from this call (default: the server's `bodyTimeoutMs`, else 30 s). The limit is checked against
 * `Content-Length` before reading and against the bytes received while streaming (chunked bodies), so at most
 * `limit` bytes are ever buffered.
 * @throws BodyTooLargeError when the declared or received size is over the limit (the rest is not buffered)
 * @throws BodyTimeoutError when the body is not complete within the deadline
 * @throws BodyAbortedError when the client closes the connection first
 */
export function readBody(req: IncomingMessage, limit?: number, timeoutMs?: number): Promise<Buffer> {
  const server = bodyLimits.get(req);
  const max = limit ?? server?.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  const deadline = timeoutMs ?? server?.timeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(new BodyTooLargeError(max));
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | undefined) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('close', onClose);
      req.off('error', onAborted);
      if (err) {
        chunks = [];
        // Stop buffering: the rest of the body is dropped by refuseBody (or the socket is gone).
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) finish(new BodyTooLargeError(max));
      else chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    const onAborted = () => finish(new BodyAbortedError());
    const onClose = () => {
      if (!req.complete) finish(new BodyAbortedError());
    };
    const timer = setTimeout(() => finish(new BodyTimeoutError(deadline)), deadline);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('close', onClose);
    req.on('error', onAborted);
  });
}

/**
 * Answers a {@link BodyError} with `{error, message}` and ends the request in bounded time:
 * - 413: the rest of the body is read and dropped while the answer goes out, so a client still uploading gets to
 *   read it (closing at once would reset the connection under the client's writes: EPIPE instead of 413); if the
 *   body has not ended 1 s after the answer, the socket is destroyed.
 * - 408: `Connection: close`; Node closes the socket once the answer is flushed.
 * A socket that is still open 1 s after the answer is destroyed in both cases.
 */
export function refuseBody(req: IncomingMessage, res: ServerResponse, err: BodyError): void {
  const socket = req.socket;
  req.resume();
  if (res.headersSent) {
    socket.destroy();
    return;
  }
  res.once('finish', () => {
    if (req.complete && err instanceof BodyTooLargeError) return; // the body ended: the connection is reusable
    const t = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    t.unref();
    const cancel = () => clearTimeout(t);
    socket.once('close', cancel);
    if (err instanceof BodyTooLargeError) req.once('end', cancel);
  });
  res.writeHead(err.status, {
    'content-type': 'application/json; charset=utf-8',
    ...(err instanceof BodyTimeoutError ? { connection: 'close' } : {}),
  });
  res.end(JSON.stringify({ error: err.code, message: err.message }));
}

/** Sends a JSON answer with the given status. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

/** Sends a plain-text answer with the given status. */
export function sendText(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(body);
}

interface Compiled {
  route: Route;
  parts: string[];
}

function matchPath(parts: string[], segs: string[]): Record<string, string> | undefined {
  if (parts.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const s = segs[i]!;
    if (p.startsWith(':')) {
      if (!s) return undefined;
      try {
        params[p.slice(1)] = decodeURIComponent(s);
      } catch {
        return undefined;
      }
    } else if (p !== s) return undefined;
  }
  return params;
}

/**
 * Starts the HTTP server and resolves once it listens.
 * @throws the listen error (EADDRINUSE, EACCES)
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const limits = {
    maxBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    timeoutMs: opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  };
  const requestTimeout = opts.requestTimeoutMs ?? 60_000;
  const headersTimeout = Math.min(opts.headersTimeoutMs ?? 30_000, requestTimeout || Number.POSITIVE_INFINITY);
  const log = opts.log ?? (() => {});
  const compiled: Compiled[] = opts.routes.map((route) => ({
    route,
    parts: route.path.split('/').filter(Boolean),
  }));
  const server = createServer(
    {
      requestTimeout,
      headersTimeout,
      // Node checks both timeouts on this interval (its default, 30 s, would let a request overrun by that much).
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor((headersTimeout || requestTimeout) / 4))),
    },
    (req, res) => {
      bodyLimits.set(req, limits);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const segs = path.split('/').filter(Boolean);
      let allowed = false;
      for (const c of compiled) {
        const params = matchPath(c.parts, segs);
        if (!params) continue;
        if (c.route.method.toUpperCase() !== req.method) {
          allowed = true;
          continue;
        }
        Promise.resolve()
          .then(() => c.route.handler(req, res, params))
          .catch((err: unknown) => {
            if (isBodyError(err)) {
              log(`http: ${err.status} ${req.method} ${path}: ${err.message}`);
              refuseBody(req, res, err);
              return;
            }
            if (err instanceof BodyAbortedError) {
              log(`http: ${req.method} ${path}: ${err.message}`);
              req.socket.destroy();
              return;
            }
            log(`http: 500 ${req.method} ${path}: ${err instanceof Error ? err.name : 'error'}`);
            if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL_SERVER_ERROR' });
            else res.end();
          });
        return;
      }
      if (allowed) sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED' });
      else sendJson(res, 404, { error: 'NOT_FOUND' });
    },
  );
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; strips `[…]`, a `:port` and an IPv6 zone; undefined when not an IP address. */
function normalizeIp(raw: string): string | undefined {
  let s = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else if (/^\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}$/.test(s)) s = s.slice(0, s.indexOf(':'));
  s = s.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  if (mapped) s = mapped[1]!;
  const v = isIP(s);
  if (v === 4) return s;
  if (v === 6) return s.toLowerCase();
  return undefined;
}

/**
 * Builds the resolver of a request's client address.
 *
 * `trustedProxies` are the reverse proxies in front of the server, each an IPv4/IPv6 address (`10.0.0.5`, `::1`)
 * or a CIDR (`10.0.0.0/8`, `fd00::/8`). When the connection comes from one of them, `X-Forwarded-For` is read from
 * right to left, skipping trusted proxies, and the first address that is not one is the client (the entries left
 * of it were written by the client and can be forged). An entry that is not an IP address stops the walk at the
 * last trusted hop. From any other peer `X-Forwarded-For` is ignored and the socket address is the client. With no
 * trusted proxies (the default) the header is never read.
 * @throws TypeError naming an entry that is neither an IP address nor a CIDR
 */
export function clientAddressOf(trustedProxies: readonly string[] = []): (req: IncomingMessage) => string {
  const list = new BlockList();
  for (const spec of trustedProxies) {
    const [addr = '', prefix, extra] = spec.trim().split('/');
    const ip = normalizeIp(addr);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const type = ip && isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    const maxBits = type === 'ipv6' ? 128 : 32;
    const badPrefix = bits !== undefined && (!/^\d{1,3}$/.test(prefix ?? '') || bits > maxBits);
    if (!ip || extra !== undefined || badPrefix) {
      throw new TypeError(`trusted proxy "${spec}" is neither an IP address nor a CIDR (e.g. 10.0.0.0/8)`);
    }
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, bits, type);
  }
  const trusted = (ip: string) => list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  const none = trustedProxies.length === 0;
  return (req) => {
    const peer = normalizeIp(req.socket.remoteAddress ?? '') ?? 'unknown';
    if (none || peer === 'unknown' || !trusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!.trim();
      if (!hop) continue;
      const ip = normalizeIp(hop);
      if (!ip) break;
      client = ip;
      if (!trusted(ip)) break;
    }
    return client;
  };
}
