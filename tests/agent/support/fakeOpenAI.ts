import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A scripted answer: the assistant message content, or an HTTP error status. */
export type ScriptedAnswer = string | { status: number };

/**
 * A local OpenAI-compatible chat-completions server with scripted answers. Records every request body so
 * tests can assert what the model was sent (and count its tokens).
 */
export class FakeOpenAI {
  readonly requests: Record<string, unknown>[] = [];
  readonly rawRequests: string[] = [];
  private script: ScriptedAnswer[] = [];
  private server!: Server;
  baseURL = '';

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString('utf8');
      if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      this.rawRequests.push(raw);
      this.requests.push(JSON.parse(raw) as Record<string, unknown>);
      const next = this.script.shift() ?? JSON.stringify({ reply: 'Nothing to do.', pipeline: null });
      if (typeof next !== 'string') {
        res.writeHead(next.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'scripted failure', type: 'server_error' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${this.requests.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: 'fake-model',
          choices: [{ index: 0, message: { role: 'assistant', content: next }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.baseURL = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Queues answers for the next requests (in order). */
  answer(...answers: ScriptedAnswer[]): void {
    this.script.push(...answers);
  }

  /** A planner answer with a pipeline. */
  static plan(reply: string, pipeline: unknown): string {
    return JSON.stringify({ reply, pipeline });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
