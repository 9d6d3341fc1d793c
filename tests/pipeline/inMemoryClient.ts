import type { BatchCommand, PipelineClient } from '../../src/pipeline/client.js';

/**
 * Base of the in-memory stand-in clients of the interpreter unit tests (the real HTTP runs are in *.e2e.test.ts):
 * `call` and `batch` both go through `exec`, one request each; a throwing command becomes that command's error.
 */
export abstract class InMemoryClient implements PipelineClient {
  requests = 0;
  abstract exec(method: string, params: any): unknown;
  async call(method: string, params?: any) {
    this.requests++;
    return { result: this.exec(method, params) as any };
  }
  async batch(cmds: Record<string, BatchCommand>) {
    this.requests++;
    const results: Record<string, unknown> = {};
    const errors: Record<string, unknown> = {};
    for (const [k, c] of Object.entries(cmds)) {
      try {
        results[k] = this.exec(c.method, c.params);
      } catch (e) {
        errors[k] = e;
      }
    }
    return { results, errors, requests: 1 };
  }
}
