/**
 * `connectApp()` with the embedded sandbox: the application (OAuth) client it builds for offline events paces like
 * the connection's own client. Before, it got a default standard-plan limiter of its own (2 req/s after a burst of
 * 50), which made every OAuth call past the burst wait ~500 ms on an unlimited sandbox.
 */
import { describe, expect, it } from 'vitest';
import { connectApp } from '../../src/cli/compose.js';
import { tempDir } from './helpers.js';

describe('connectApp (embedded sandbox)', () => {
  it('gives the app client the connection limiter settings', async () => {
    const t = tempDir('b24flow-connapp-');
    const conn = await connectApp({
      env: { B24FLOW_DATA_DIR: t.dir },
      sandbox: { plan: 'unlimited', operatingLimit: 0, quiet: true, size: 10 },
    });
    try {
      expect(conn.kind).toBe('oauth');
      for (let i = 0; i < 80; i++) await conn.client.call('crm.deal.get', { id: 1 });
      const s = conn.client.stats();
      expect(s.requests).toBe(80);
      // past the standard burst of 50 a standard limiter would have waited ≥ 14 s for the last 30 calls
      expect(s.limiterWaitMs).toBeLessThan(2000);
    } finally {
      await conn.close();
      t.cleanup();
    }
  });
});
