/**
 * The HTTP server of `b24flow serve`: a tiny router on `node:http`.
 *
 * Routes are matched on method and a path pattern with `:name` parameters (`/runs/:id`). Request bodies are
 * never read by the router itself; handlers call {@link readBody}, which enforces `maxBodyBytes` (413 when over).
 * Unknown paths answer 404, known paths with another method 405, handler crashes 500 without internal details.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
  /** Largest accepted request body in bytes (default 1 MiB); larger bodies get 413 from {@link readBody}. */
  maxBodyBytes?: number;
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
  constructor(readonly limit: number) {
    super(`request body over ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

const bodyLimits = new WeakMap<IncomingMessage, number>();

/**
 * Reads the whole request body, at most the server's `maxBodyBytes` (or `limit`).
 * @throws BodyTooLargeError when the declared or received size is over the limit (the rest is not buffered)
 */
export async function readBody(req: IncomingMessage, limit?: number): Promise<Buffer> {
  const max = limit ?? bodyLimits.get(req) ?? 1024 * 1024;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw new BodyTooLargeError(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new BodyTooLargeError(max);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
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
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const log = opts.log ?? (() => {});
  const compiled: Compiled[] = opts.routes.map((route) => ({
    route,
    parts: route.path.split('/').filter(Boolean),
  }));
  const server = createServer((req, res) => {
    bodyLimits.set(req, maxBody);
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
          if (err instanceof BodyTooLargeError) {
            log(`http: 413 ${req.method} ${path}: body over ${maxBody} bytes`);
            if (!res.headersSent) {
              res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
              res.end(JSON.stringify({ error: 'PAYLOAD_TOO_LARGE' }));
            }
            req.destroy();
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
  });
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
