/**
 * Approval requests in the store (tables `approvals` and `approval_decisions`, see src/pipeline/approvals): the
 * request as sealed JSON (HMAC-SHA256 under the store's plan key, the `settings` row `plan-key`), its state, outcome
 * and delivery marks; one decision row per approver (the primary key keeps approvers distinct). State changes are
 * updates conditioned on the current state, so two processes never move a request twice; a decision is inserted in
 * the same transaction that sees the request still `pending`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  APPROVAL_ID,
  type ApprovalDecision,
  type ApprovalRequest,
  type ApprovalState,
  type ApprovalStore,
  canonicalJson,
  type StoredApproval,
} from '../pipeline/index.js';
import type { Store } from './db.js';
import { planKeyOf } from './plans.js';

/** The key of a change: one pending request per pipeline, portal and content hash. */
function changeKey(req: ApprovalRequest): string {
  return `${req.pipeline.name}|${req.portal ?? ''}|${req.hash}`;
}

/** The approval store on the database (see module doc). */
export class SqlApprovalStore implements ApprovalStore {
  private key: Promise<Buffer> | undefined;
  constructor(readonly store: Store) {}

  private async seal(req: ApprovalRequest): Promise<string> {
    this.key ??= planKeyOf(this.store);
    this.key.catch(() => {
      this.key = undefined;
    });
    return createHmac('sha256', await this.key)
      .update(`approval:${canonicalJson(req)}`)
      .digest('hex');
  }

  async create(req: ApprovalRequest): Promise<boolean> {
    const now = Date.now();
    const r = await this.store.db
      .insertInto('approvals')
      .values({
        approval_id: req.id,
        run_id: req.runId,
        pipeline: req.pipeline.name,
        state: 'pending',
        request_json: JSON.stringify(req),
        seal: await this.seal(req),
        applied_run: null,
        note: null,
        created_ms: Date.parse(req.createdAt) || now,
        expires_ms: Date.parse(req.expiresAt) || now,
        updated_ms: now,
        notified_ms: null,
        reminded_ms: null,
        change_key: changeKey(req),
      })
      // the same change pending already (another run asked at the same time): nothing is inserted
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async pendingFor(req: ApprovalRequest): Promise<StoredApproval | undefined> {
    const row = await this.store.db
      .selectFrom('approvals')
      .selectAll()
      .where('change_key', '=', changeKey(req))
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return row ? this.view(row) : undefined;
  }

  private async view(row: {
    approval_id: string;
    state: string;
    request_json: string;
    seal: string;
    applied_run: string | null;
    note: string | null;
    updated_ms: number;
    notified_ms: number | null;
    reminded_ms: number | null;
  }): Promise<StoredApproval> {
    let request: ApprovalRequest;
    let verified = false;
    try {
      request = JSON.parse(row.request_json) as ApprovalRequest;
      const want = Buffer.from(await this.seal(request));
      const got = Buffer.from(row.seal);
      verified = request.id === row.approval_id && want.length === got.length && timingSafeEqual(want, got);
    } catch {
      request = { id: row.approval_id } as ApprovalRequest;
    }
    const decisions = await this.store.db
      .selectFrom('approval_decisions')
      .selectAll()
      .where('approval_id', '=', row.approval_id)
      .orderBy('at_ms')
      .execute();
    return {
      request,
      verified,
      state: row.state as ApprovalState,
      decisions: decisions.map((d) => ({
        by: d.user_id,
        decision: d.decision as ApprovalDecision['decision'],
        via: d.via as ApprovalDecision['via'],
        ...(d.confirmed_destructive ? { destructiveConfirmed: true } : {}),
        ...(d.reason ? { reason: d.reason } : {}),
        at: new Date(Number(d.at_ms)).toISOString(),
      })),
      ...(row.applied_run ? { appliedRun: row.applied_run } : {}),
      ...(row.note ? { note: row.note } : {}),
      ...(row.notified_ms !== null ? { notifiedMs: Number(row.notified_ms) } : {}),
      ...(row.reminded_ms !== null ? { remindedMs: Number(row.reminded_ms) } : {}),
      updatedMs: Number(row.updated_ms),
    };
  }

  async get(id: string): Promise<StoredApproval | undefined> {
    if (!APPROVAL_ID.test(id)) return undefined;
    const row = await this.store.db
      .selectFrom('approvals')
      .selectAll()
      .where('approval_id', '=', id)
      .executeTakeFirst();
    return row ? this.view(row) : undefined;
  }

  async list(o: { state?: ApprovalState[]; runId?: string; limit?: number } = {}): Promise<StoredApproval[]> {
    let q = this.store.db.selectFrom('approvals').selectAll();
    if (o.state?.length) q = q.where('state', 'in', o.state);
    if (o.runId) q = q.where('run_id', '=', o.runId);
    const rows = await q
      .orderBy('created_ms', 'desc')
      .orderBy('approval_id')
      .limit(o.limit ?? 1000)
      .execute();
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async decide(id: string, d: ApprovalDecision): Promise<'recorded' | 'duplicate' | 'closed'> {
    return this.store.db.transaction().execute(async (trx) => {
      // touching the row first serialises concurrent decisions on one request (a row lock on PostgreSQL)
      const r = await trx
        .updateTable('approvals')
        .set({ updated_ms: Date.now() })
        .where('approval_id', '=', id)
        .where('state', '=', 'pending')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return 'closed' as const;
      const seen = await trx
        .selectFrom('approval_decisions')
        .select('user_id')
        .where('approval_id', '=', id)
        .where('user_id', '=', d.by)
        .executeTakeFirst();
      if (seen) return 'duplicate' as const;
      await trx
        .insertInto('approval_decisions')
        .values({
          approval_id: id,
          user_id: d.by,
          decision: d.decision,
          via: d.via,
          confirmed_destructive: d.destructiveConfirmed ? 1 : 0,
          reason: d.reason ?? null,
          at_ms: Date.parse(d.at) || Date.now(),
        })
        .execute();
      return 'recorded' as const;
    });
  }

  async transition(
    id: string,
    from: readonly ApprovalState[],
    to: ApprovalState,
    patch: { appliedRun?: string; note?: string } = {},
  ): Promise<boolean> {
    const r = await this.store.db
      .updateTable('approvals')
      .set({
        state: to,
        updated_ms: Date.now(),
        ...(patch.appliedRun !== undefined ? { applied_run: patch.appliedRun } : {}),
        ...(patch.note !== undefined ? { note: patch.note.slice(0, 2000) } : {}),
      })
      .where('approval_id', '=', id)
      .where('state', 'in', [...from])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async markNotified(id: string, what: 'asked' | 'reminded'): Promise<boolean> {
    const col = what === 'asked' ? 'notified_ms' : 'reminded_ms';
    const r = await this.store.db
      .updateTable('approvals')
      .set({ [col]: Date.now() })
      .where('approval_id', '=', id)
      .where(col, 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
