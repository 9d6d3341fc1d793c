/**
 * The approval service: runs that need a person ask, people decide, approved requests are applied once.
 *
 * | state      | event                                             | next       |
 * |------------|---------------------------------------------------|------------|
 * | (none)     | an unattended run plans writes (`approve: ask`)   | pending    |
 * | pending    | approval, fewer than `min` distinct approvers yet  | pending    |
 * | pending    | approval reaching `min`                            | applying   |
 * | pending    | rejection (any approver, with a reason)            | rejected   |
 * | pending    | `expires_in` passed (sweep, or a late decision)    | expired    |
 * | applying   | re-plan: the group's writes or data changed        | superseded (a new pending request asks again) |
 * | applying   | the run completed                                  | applied    |
 * | applying   | the run failed or wrote partly                     | failed     |
 *
 * Refused without recording anything: unknown id, a row that no longer matches its seal, a hash other than the
 * request's, a closed (decided, applied, expired) request, self-approval, a non-approver, an approver who may not edit
 * a touched record, a destructive request approved without the second confirmation, a second decision of the same
 * person. The asking run (journal status `awaiting_approval`) ends `completed`, `partial`, `failed`, `rejected` or
 * `expired` when its last request settles.
 */
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../../lib/failures.js';
import type { Journal } from '../journal.js';
import type { LoadedPipeline } from '../load.js';
import type { PlanStore } from '../run/planStore.js';
import { newRunId } from '../run/results.js';
import { planPipeline } from '../run/runner.js';
import { type Plan, type RunOptions, type RunTrigger, writeId } from '../run/types.js';
import { applyApproved, settleRun } from './apply.js';
import type { PortalDirectory } from './directory.js';
import { approversOf, expiresInMs, groupHash, groupWrites } from './groups.js';
import {
  APPROVAL_ID,
  type ApprovalDecision,
  ApprovalRefused,
  type ApprovalRequest,
  type ApprovalStore,
  type DecisionChannel,
  type StoredApproval,
} from './types.js';

/** What the service runs with: the stores, the directory, and the run options of its runs (client, journal, …). */
export interface ApprovalServiceOptions {
  approvals: ApprovalStore;
  plans: PlanStore;
  directory: PortalDirectory;
  /** Options of the runs it plans and applies (client, journal, idempotency, catalog, language, env, …). */
  run: Omit<RunOptions, 'mode' | 'inputs' | 'now' | 'resume' | 'planId' | 'approvedWrites' | 'trigger'>;
  /** Clock, ms (tests). */
  now?: () => number;
  /** Renders writes in plain words with names (src/pipeline/planWords.ts over the portal); default none. */
  describe?: (writes: Plan['writes'], lang: 'en' | 'ru') => Promise<string[]>;
}

/** The result of asking: the asking run and its requests (none when the plan writes nothing). */
export interface AskResult {
  runId?: string;
  status: 'awaiting_approval' | 'completed';
  requests: ApprovalRequest[];
  plan: Plan;
}

/** The result of a decision: the request's state after it, and what followed. */
export interface DecisionResult {
  approval: StoredApproval;
  /** Approvals still needed (pending). */
  waitingFor?: number;
  /** The applied run: id, status, summary (applied, failed). */
  run?: { runId: string; status: string; summary: string[]; error?: string };
  /** The request that asks again after a drift (superseded). */
  reasked?: ApprovalRequest;
  /** Trail comments added to the touched records. */
  trail?: { added: number; errors: string[] };
}

/** Asks approvers, records decisions and applies approved requests (see module doc for the state machine). */
export class ApprovalService {
  constructor(readonly o: ApprovalServiceOptions) {}

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /**
   * Plans `p` and stores one request per group of writes (see groups.ts), the plan sealed for as long as they live;
   * the asking run is journaled `awaiting_approval`. A group whose exact change (same hash, pipeline and portal) is
   * already pending is not asked again: its request is returned instead.
   * @throws InvalidInputError when the pipeline declares no `approvers:` or a group has too few approvers
   */
  async ask(
    p: LoadedPipeline,
    a: { inputs: Record<string, unknown>; trigger: RunTrigger; startedBy?: string },
  ): Promise<AskResult> {
    const spec = p.pipeline.approvers;
    if (!spec)
      throw new InvalidInputError(
        `pipeline ${p.pipeline.name} needs a person to approve its writes but declares no approvers:`,
      );
    const ttl = expiresInMs(spec.expires_in);
    const now = this.now();
    const plan = await planPipeline(p, {
      ...this.o.run,
      inputs: a.inputs,
      now,
      trigger: a.trigger,
      store: this.o.plans,
      planTtlMs: ttl,
      principal: 'approvals',
    });
    if (!plan.writes.length) return { status: 'completed', requests: [], plan };
    const groups = groupWrites(plan.writes, spec);
    const drafts = await Promise.all(
      groups.map(async (g) => ({ g, approvers: await approversOf(g, spec, this.o.directory, a.startedBy) })),
    );
    const runId = newRunId();
    const requests: ApprovalRequest[] = [];
    const known: ApprovalRequest[] = [];
    for (const { g, approvers } of drafts) {
      const req: ApprovalRequest = {
        id: `a${randomBytes(12).toString('hex')}`,
        runId,
        pipeline: { name: p.pipeline.name, ...(p.file ? { file: p.file } : {}) },
        ...(plan.portal ? { portal: plan.portal } : {}),
        planId: plan.id,
        writes: g.writes.map(writeId),
        hash: groupHash(g.writes),
        ...(g.owner ? { owner: g.owner } : {}),
        approvers,
        min: spec.min ?? 1,
        ...(a.startedBy ? { startedBy: a.startedBy } : {}),
        destructive: g.writes.some((w) => w.risk === 'destructive'),
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + ttl).toISOString(),
      };
      // the same change waiting for its approvers already (a schedule firing again, two runs at once) is not asked
      // twice: the store keeps one pending request per change
      if (await this.o.approvals.create(req)) requests.push(req);
      else {
        const pending = await this.o.approvals.pendingFor(req);
        if (pending) known.push(pending.request);
      }
    }
    if (!requests.length) return { runId: known[0]?.runId, status: 'awaiting_approval', requests: known, plan };
    await this.journal?.begin({
      runId,
      pipeline: { name: p.pipeline.name, file: p.file, path: p.path, hash: p.hash, object: p.pipeline },
      mode: 'full',
      confirmWrite: false,
      confirmDestructive: false,
      inputs: plan.inputs,
      trigger: { ...a.trigger, ...(a.startedBy ? { startedBy: a.startedBy } : {}) },
      ...(plan.portal ? { portal: plan.portal } : {}),
      now,
      status: 'awaiting_approval',
      startedAt: new Date(now).toISOString(),
      steps: {},
      planId: plan.id,
    });
    return { runId, status: 'awaiting_approval', requests: [...requests, ...known], plan };
  }

  /** The stored request, verified. @throws ApprovalRefused unknown | tampered | changed */
  private async load(id: string, hash: string | undefined): Promise<StoredApproval> {
    const s = APPROVAL_ID.test(id) ? await this.o.approvals.get(id) : undefined;
    if (!s) throw new ApprovalRefused('unknown', `unknown approval request "${id}"`);
    if (!s.verified)
      throw new ApprovalRefused('tampered', `approval request ${id} was changed outside b24flow; it cannot be decided`);
    if (hash !== undefined && (hash.length < 8 || !s.request.hash.startsWith(hash)))
      throw new ApprovalRefused(
        'changed',
        `approval request ${id} is not the content you were shown (hash ${hash}); look at it again`,
      );
    return s;
  }

  /** Refuses decisions on closed or expired requests (an expired one is marked so first) and other portals' ones. */
  private async open(s: StoredApproval): Promise<void> {
    const here = this.o.run.client.portal?.id;
    if (s.request.portal && here && s.request.portal !== here)
      throw new ApprovalRefused('portal', `approval request ${s.request.id} belongs to another portal`);
    if (s.state === 'pending' && Date.parse(s.request.expiresAt) <= this.now()) {
      await this.expire(s);
      throw new ApprovalRefused('expired', `approval request ${s.request.id} expired at ${s.request.expiresAt}`);
    }
    if (s.state !== 'pending')
      throw new ApprovalRefused('closed', `approval request ${s.request.id} is ${s.state}; it takes no decisions`);
  }

  /** Refuses a person who may not decide on the request. */
  private mayDecide(s: StoredApproval, by: string): void {
    if (s.request.startedBy === by)
      throw new ApprovalRefused('self', `user ${by} started this run and cannot approve it (no self-approval)`);
    if (!s.request.approvers.includes(by))
      throw new ApprovalRefused('not-approver', `user ${by} is not an approver of request ${s.request.id}`);
  }

  /**
   * Approves a request as Bitrix24 user `by`; when it reaches `min` distinct approvals it is applied now (re-planned
   * first: when the data drifted it is superseded by a new request instead).
   * @param a.hash the request hash (or its first ≥ 8 digits) the approver was shown
   * @param a.confirmDestructive the second, explicit confirmation (needed when the request deletes data)
   * @throws ApprovalRefused (nothing recorded, nothing written)
   */
  async approve(
    id: string,
    a: { by: string; via: DecisionChannel; hash?: string; confirmDestructive?: boolean },
  ): Promise<DecisionResult> {
    const s = await this.load(id, a.hash);
    await this.open(s);
    this.mayDecide(s, a.by);
    if (s.request.destructive && !a.confirmDestructive)
      throw new ApprovalRefused(
        'unconfirmed',
        `request ${id} deletes data: approve it with the second, explicit confirmation (confirm destructive)`,
      );
    await this.checkEditRights(s, a.by);
    const d: ApprovalDecision = {
      by: a.by,
      decision: 'approve',
      via: a.via,
      ...(s.request.destructive ? { destructiveConfirmed: true } : {}),
      at: new Date(this.now()).toISOString(),
    };
    await this.record(s, d);
    const now = (await this.o.approvals.get(id))!;
    const approvals = now.decisions.filter((x) => x.decision === 'approve').length;
    if (approvals < s.request.min) return { approval: now, waitingFor: s.request.min - approvals };
    return applyApproved(this, now);
  }

  /**
   * Rejects a request as Bitrix24 user `by` (any one approver's rejection ends it); nothing is written.
   * @throws ApprovalRefused (nothing recorded)
   */
  async reject(
    id: string,
    a: { by: string; via: DecisionChannel; reason?: string; hash?: string },
  ): Promise<DecisionResult> {
    const s = await this.load(id, a.hash);
    await this.open(s);
    this.mayDecide(s, a.by);
    const reason = (a.reason ?? '').trim().slice(0, 500);
    await this.record(s, {
      by: a.by,
      decision: 'reject',
      via: a.via,
      ...(reason ? { reason } : {}),
      at: new Date(this.now()).toISOString(),
    });
    await this.o.approvals.transition(id, ['pending'], 'rejected', {
      note: `rejected by user ${a.by}${reason ? `: ${reason}` : ''}`,
    });
    await settleRun(this, s.request.runId);
    return { approval: (await this.o.approvals.get(id))! };
  }

  private async record(s: StoredApproval, d: ApprovalDecision): Promise<void> {
    const r = await this.o.approvals.decide(s.request.id, d);
    if (r === 'duplicate')
      throw new ApprovalRefused('duplicate', `user ${d.by} already decided on request ${s.request.id}`);
    if (r === 'closed')
      throw new ApprovalRefused('closed', `approval request ${s.request.id} was decided meanwhile; it is closed`);
  }

  /** Refuses an approver who may not edit one of the records the request changes (names them). */
  private async checkEditRights(s: StoredApproval, by: string): Promise<void> {
    const writes = await this.writesOf(s);
    const denied: string[] = [];
    for (const w of writes) {
      if (!(await this.o.directory.mayEdit(by, w.owner)))
        denied.push(w.record ? `record ${w.record.entityTypeId}:${w.record.id}` : writeId(w));
    }
    if (denied.length)
      throw new ApprovalRefused(
        'no-edit-right',
        `user ${by} may not edit ${denied.slice(0, 5).join(', ')}${denied.length > 5 ? ` and ${denied.length - 5} more` : ''}; nothing was approved`,
      );
  }

  /** The planned writes of a request (from its sealed plan). @throws ApprovalRefused tampered when the plan is */
  async writesOf(s: StoredApproval): Promise<Plan['writes']> {
    const stored = await this.o.plans.get(s.request.planId);
    if (!stored || !(await this.o.plans.verify(s.request.planId, stored)))
      throw new ApprovalRefused('tampered', `the plan of request ${s.request.id} is missing or was changed`);
    const ids = new Set(s.request.writes);
    return stored.plan.writes.filter((w) => ids.has(writeId(w)));
  }

  private async expire(s: StoredApproval): Promise<void> {
    if (
      await this.o.approvals.transition(s.request.id, ['pending'], 'expired', {
        note: `expired at ${s.request.expiresAt}`,
      })
    )
      await settleRun(this, s.request.runId);
  }

  /** Marks every pending request past its expiry `expired` (nothing is written). @returns those it expired */
  async expireDue(): Promise<StoredApproval[]> {
    const out: StoredApproval[] = [];
    for (const s of await this.o.approvals.list({ state: ['pending'] })) {
      if (Date.parse(s.request.expiresAt) > this.now()) continue;
      await this.expire(s);
      out.push((await this.o.approvals.get(s.request.id)) ?? s);
    }
    return out;
  }

  /** A stored request. */
  get(id: string): Promise<StoredApproval | undefined> {
    return APPROVAL_ID.test(id) ? this.o.approvals.get(id) : Promise.resolve(undefined);
  }

  /** Requests, newest first. */
  list(o?: Parameters<ApprovalStore['list']>[0]): Promise<StoredApproval[]> {
    return this.o.approvals.list(o);
  }

  /** The journal of the asking runs, if any. */
  get journal(): Journal | undefined {
    return this.o.run.journal || undefined;
  }

  /** The service clock (ms). */
  clock(): number {
    return this.now();
  }

  /**
   * Writes in plain words (names, not ids) with the options' `describe`, else none (callers fall back to methods
   * and diffs).
   */
  async describe(writes: Plan['writes'], lang: 'en' | 'ru'): Promise<string[]> {
    return this.o.describe ? this.o.describe(writes, lang).catch(() => []) : [];
  }
}
