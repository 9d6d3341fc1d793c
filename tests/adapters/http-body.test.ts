import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/adapters/http/api.js';
import { type HttpServerHandle, readBody, sendJson, startHttpServer } from '../../src/lib/http.js';
import { findSecrets } from '../agent/support/secrets.js';
import { createdDataDirs, makeAgent, TEST_SECRETS } from '../agent/support/setup.js';
import { stubEngine } from '../agent/support/stubEngine.js';

/**
 * Request body limits through real HTTP: a chunked body over `maxBodyBytes` is cut off while streaming (413, not
 * 500, the server keeps serving), a body trickling in slower than `bodyTimeoutMs` gets 408 or a closed connection
 * in bounded time.
 */

const TOKEN = 'body-token-0123456789abcdef';
const LIMIT = 64 * 1024;
const servers: HttpServerHandle[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  expect(findSecrets(createdDataDirs, TEST_SECRETS)).toEqual([]);
});

interface Outcome {
  status?: number;
  body?: string;
  /** Transport error when the server closed the connection without (or before) an answer. */
  error?: string;
  /** The client gave up waiting (the server neither answered nor closed). */
  gaveUp?: boolean;
  /** Bytes of body the client got to write. */
  sent: number;
  ms: number;
}

/**
 * POSTs a body without `Content-Length` (so `Transfer-Encoding: chunked`), writing `chunk` every `everyMs` ms until
 * the server answers or closes, `maxBytes` were sent (then the body is ended), or `giveUpMs` passed.
 */
function chunkedPost(
  url: string,
  path: string,
  o: { chunk: Buffer; everyMs: number; maxBytes: number; giveUpMs: number },
): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    let sent = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: Omit<Outcome, 'sent' | 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      resolve({ ...r, sent, ms: Date.now() - started });
      req.destroy();
    };
    const req = request(
      `${url}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': TOKEN } },
      (res) => {
        clearTimeout(timer);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
    const giveUp = setTimeout(() => finish({ gaveUp: true }), o.giveUpMs);
    const pump = () => {
      if (done) return;
      if (sent >= o.maxBytes) {
        req.end();
        return;
      }
      sent += o.chunk.length;
      const ok = req.write(o.chunk);
      if (ok) timer = setTimeout(pump, o.everyMs);
      else req.once('drain', () => (timer = setTimeout(pump, o.everyMs)));
    };
    req.write('{"user_id":"u1","message":"');
    pump();
  });
}

async function api(opts: { bodyTimeoutMs?: number } = {}) {
  const logs: string[] = [];
  const srv = await startHttpServer({
    routes: [
      ...apiRoutes({ agent: makeAgent(stubEngine()), tokens: [TOKEN], log: (l) => logs.push(l) }),
      {
        method: 'POST',
        path: '/echo',
        handler: async (req, res) => sendJson(res, 200, { bytes: (await readBody(req)).length }),
      },
    ],
    maxBodyBytes: LIMIT,
    ...(opts.bodyTimeoutMs ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
    log: (l) => logs.push(l),
  });
  servers.push(srv);
  return { srv, logs };
}

const chat = (srv: HttpServerHandle) =>
  fetch(`${srv.url}/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': TOKEN },
    body: JSON.stringify({ user_id: 'u1', message: '/start' }),
  });

describe('HTTP request bodies', () => {
  for (const path of ['/chat', '/echo']) {
    it(`a chunked body over the limit gets 413 (not 500) on ${path} and the server stays up`, async () => {
      const { srv, logs } = await api();
      // big writes: the client is still uploading when the answer comes (a server that closes at once → EPIPE)
      const r = await chunkedPost(srv.url, path, {
        chunk: Buffer.alloc(4 * LIMIT, 'a'),
        everyMs: 0,
        maxBytes: 256 * LIMIT,
        giveUpMs: 5_000,
      });
      expect(r.gaveUp).toBeUndefined();
      expect(r.status, JSON.stringify(r)).toBe(413);
      expect(JSON.parse(r.body ?? '')).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
      expect(logs.join('\n')).toMatch(/over 65536 bytes/);
      expect(logs.join('\n')).not.toMatch(/ 500 |INTERNAL/);
      // still serving, on new connections
      const after = await chat(srv);
      expect(after.status).toBe(200);
      const echo = await fetch(`${srv.url}/echo`, { method: 'POST', body: 'x'.repeat(1000) });
      expect(await echo.json()).toEqual({ bytes: 1000 });
    });
  }

  it('a client that keeps sending after the 413 is disconnected within about a second', async () => {
    const { srv } = await api();
    const { port } = new URL(srv.url);
    const started = Date.now();
    const outcome = await new Promise<{ answer: string; closedAfterMs: number }>((resolve) => {
      const sock = connect(Number(port), '127.0.0.1');
      let answer = '';
      let writing = true;
      const chunk = Buffer.alloc(16 * 1024, 'z');
      const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
      const pump = () => {
        if (!writing) return;
        if (sock.write(frame)) setImmediate(pump);
        else sock.once('drain', pump);
      };
      sock.on('data', (d) => (answer += d.toString('latin1').slice(0, 200)));
      sock.on('error', () => {});
      sock.on('close', () => {
        writing = false;
        resolve({ answer, closedAfterMs: Date.now() - started });
      });
      const giveUp = setTimeout(() => sock.destroy(), 6_000);
      sock.on('close', () => clearTimeout(giveUp));
      sock.write(
        'POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n',
        pump,
      );
    });
    expect(outcome.answer).toMatch(/^HTTP\/1\.1 413/);
    expect(outcome.closedAfterMs).toBeLessThan(4_000);
    expect((await chat(srv)).status).toBe(200);
  });

  it('a chunked body within the limit is read whole', async () => {
    const { srv } = await api();
    const r = await chunkedPost(srv.url, '/echo', {
      chunk: Buffer.alloc(1024, 'b'),
      everyMs: 1,
      maxBytes: 16 * 1024,
      giveUpMs: 5_000,
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body ?? '')).toEqual({ bytes: 16 * 1024 + '{"user_id":"u1","message":"'.length });
  });

  it('a body trickling slower than the read deadline gets 408 or a closed connection, in bounded time', async () => {
    const { srv, logs } = await api({ bodyTimeoutMs: 400 });
    for (const path of ['/chat', '/echo']) {
      const r = await chunkedPost(srv.url, path, {
        chunk: Buffer.from('a'),
        everyMs: 100,
        maxBytes: 10_000,
        giveUpMs: 4_000,
      });
      expect(r.gaveUp, `${path} still open after ${r.ms} ms`).toBeUndefined();
      expect(r.ms).toBeLessThan(2_500);
      if (r.status !== undefined) {
        expect(r.status).toBe(408);
        expect(JSON.parse(r.body ?? '')).toMatchObject({ error: 'REQUEST_TIMEOUT' });
      } else expect(r.error).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    }
    expect(logs.join('\n')).toMatch(/not received within 400 ms/);
    expect((await chat(srv)).status).toBe(200);
  });
});
