/**
 * An in-memory offline queue with Bitrix24's documented semantics (event-offline-get/clear/error.md), for unit tests
 * of the sync worker's logic. End-to-end tests use the sandbox portal over HTTP instead.
 */
export class FakeOfflineQueue {
  rows: {
    ID: number;
    TIMESTAMP_X: string;
    EVENT_NAME: string;
    EVENT_DATA: unknown;
    MESSAGE_ID: string;
    PROCESS_ID: string;
    ERROR: number;
  }[] = [];
  calls: { method: string; params: any }[] = [];
  private next = 1;

  push(event: string, id: number | string, ts = '2026-03-02T10:00:00+00:00'): void {
    this.rows.push({
      ID: this.next++,
      TIMESTAMP_X: ts,
      EVENT_NAME: event,
      EVENT_DATA: { FIELDS: { ID: String(id) } },
      MESSAGE_ID: `${event}:${id}`,
      PROCESS_ID: '',
      ERROR: 0,
    });
  }

  async call<T>(method: string, params: any = {}): Promise<{ result: T }> {
    this.calls.push({ method, params });
    if (method === 'event.offline.get') {
      const pid: string = params.process_id || `srv-${Math.random().toString(16).slice(2)}`;
      const limit = params.limit ?? 50;
      for (const r of this.rows) {
        if (this.rows.filter((x) => x.PROCESS_ID === pid && !x.ERROR).length >= limit) break;
        if (!r.PROCESS_ID && !r.ERROR) r.PROCESS_ID = pid;
      }
      const events = this.rows.filter((r) => r.PROCESS_ID === pid && !r.ERROR).slice(0, limit);
      return { result: { process_id: pid, events } as T };
    }
    if (method === 'event.offline.clear') {
      const ids = new Set((params.id as string[]).map(String));
      this.rows = this.rows.filter((r) => !(r.PROCESS_ID === params.process_id && ids.has(String(r.ID))));
      return { result: true as T };
    }
    if (method === 'event.offline.error') {
      const ids = new Set((params.message_id as string[]).map(String));
      for (const r of this.rows) if (r.PROCESS_ID === params.process_id && ids.has(r.MESSAGE_ID)) r.ERROR = 1;
      return { result: true as T };
    }
    if (method === 'event.offline.list') return { result: [] as T };
    throw Object.assign(new Error(`fake: ${method} not supported`), { code: 'ERROR_METHOD_NOT_FOUND' });
  }
}
