/**
 * Applying an approved request: claim it (pending → applying, once across processes), re-plan with the plan's
 * inputs and instant, compare the group's writes with what the approvers saw (drift → a new request asks again),
 * run the pipeline with only the approved writes let through, leave the trail on the records, and settle the
 * asking run when its last request is done.
 */
import { randomBytes } from 'node:crypto';
import { withAuditTags } from '../../bitrix/auditContext.js';
import type { RunStatus } from '../journal.js';
import { loadPipelineObject } from '../load.js';
import { planPipeline, runPipeline } from '../run/runner.js';
import { writeId } from '../run/types.js';
import { expiresInMs, groupHash, writesOfGroup } from './groups.js';
import type { ApprovalService, DecisionResult } from './service.js';
import { addTrail } from './trail.js';
import { type ApprovalRequest, FINAL_STATES, type StoredApproval } from './types.js';

/** Applies a request that has its approvals (see module doc). Never throws for a failed run: the request ends `failed`. */
export async function applyApproved(svc: ApprovalService, s: StoredApproval): Promise<DecisionResult> {
  const o = svc.o;
  const req = s.request;
  if (!(await o.approvals.transition(req.id, ['pending'], 'applying')))
    return { approval: (await o.approvals.get(req.id)) ?? s };
  const approvedBy = s.decisions.filter((d) => d.decision === 'approve').map((d) => d.by);
  try {
    const stored = await o.plans.get(req.planId);
    if (!stored || !(await o.plans.verify(req.planId, stored))) throw new Error('the plan is missing or was changed');
    const plan = stored.plan;
    const p = loadPipelineObject(stored.pipeline, stored.file ?? plan.pipeline.name);
    if (stored.path) (p as { path?: string }).path = stored.path;
    const spec = p.pipeline.approvers ?? {};
    const again = await planPipeline(p, { ...o.run, inputs: plan.inputs, now: plan.now, store: false });
    const group = writesOfGroup(again.writes, spec, req.owner);
    const same =
      groupHash(group) === req.hash && group.map(writeId).sort().join('\n') === [...req.writes].sort().join('\n');
    if (!same) return await reask(svc, s, again, group, stored, expiresInMs(spec.expires_in));
    const names = await Promise.all(approvedBy.map(async (u) => `${await o.directory.nameOf(u)} (#${u})`));
    // every call of the run carries the request and its approvers to the audit log
    const tags = { approval: req.id, approvedBy: approvedBy.join(','), pipeline: req.pipeline.name };
    const run = await withAuditTags(tags, () =>
      runPipeline(p, {
        ...o.run,
        mode: 'full',
        inputs: plan.inputs,
        now: plan.now,
        confirmWrite: true,
        confirmDestructive: req.destructive,
        approvedWrites: new Set(req.writes),
        planId: req.planId,
        trigger: { kind: 'approval', approval: req.id, approvedBy, askedBy: req.runId },
      }),
    );
    const ok = run.status === 'completed';
    // the trail shows what the approvers saw (the planned writes, with before → after) for the writes that ran
    const sent = new Set(run.writes.filter((w) => !w.refused).map(writeId));
    const shown = (await svc.writesOf(s)).filter((w) => sent.has(writeId(w)));
    const trail = await withAuditTags(tags, () =>
      addTrail(o.run.client, run, shown, {
        approvers: names,
        pipeline: req.pipeline.name,
        requestId: req.id,
      }),
    );
    await o.approvals.transition(req.id, ['applying'], ok ? 'applied' : 'failed', {
      appliedRun: run.runId,
      ...(ok ? {} : { note: run.error ?? `run ended ${run.status}` }),
    });
    await settleRun(svc, req.runId);
    return {
      approval: (await o.approvals.get(req.id))!,
      run: {
        runId: run.runId,
        status: run.status,
        summary: run.summary.en,
        ...(run.error ? { error: run.error } : {}),
      },
      trail,
    };
  } catch (err) {
    await o.approvals.transition(req.id, ['applying'], 'failed', { note: (err as Error).message });
    await settleRun(svc, req.runId);
    return { approval: (await o.approvals.get(req.id))! };
  }
}

/** The data drifted: store the new plan and ask the same people again about the group's new writes. */
async function reask(
  svc: ApprovalService,
  s: StoredApproval,
  again: Awaited<ReturnType<typeof planPipeline>>,
  group: Awaited<ReturnType<typeof planPipeline>>['writes'],
  stored: { pipeline: unknown; file?: string; path?: string },
  ttl: number,
): Promise<DecisionResult> {
  const o = svc.o;
  const req = s.request;
  if (!group.length) {
    await o.approvals.transition(req.id, ['applying'], 'superseded', {
      note: 'the data changed: nothing is left to change',
    });
    await settleRun(svc, req.runId);
    return { approval: (await o.approvals.get(req.id))! };
  }
  const now = svc.clock();
  again.createdAt = new Date(now).toISOString();
  again.expiresAt = new Date(now + ttl).toISOString();
  const planId = await o.plans.save(again, { pipeline: stored.pipeline, file: stored.file, path: stored.path });
  const next: ApprovalRequest = {
    ...req,
    id: `a${randomBytes(12).toString('hex')}`,
    planId,
    writes: group.map(writeId),
    hash: groupHash(group),
    destructive: group.some((w) => w.risk === 'destructive'),
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + ttl).toISOString(),
    supersedes: req.id,
  };
  // the same new change may be pending already (asked by a later run): that request is the one to decide
  const asked = (await o.approvals.create(next)) ? next : ((await o.approvals.pendingFor(next))?.request ?? next);
  await o.approvals.transition(req.id, ['applying'], 'superseded', {
    note: `the data changed since it was asked: asked again as ${asked.id}`,
  });
  return { approval: (await o.approvals.get(req.id))!, reasked: asked };
}

/**
 * Ends the asking run once all its requests are final: completed (all applied), partial (some applied), failed (one
 * failed, none applied), expired (all expired), else rejected. Superseded requests count through their successor.
 */
export async function settleRun(svc: ApprovalService, runId: string): Promise<void> {
  const journal = svc.journal;
  if (!journal) return;
  const all = await svc.o.approvals.list({ runId });
  const live = all.filter((a) => a.state !== 'superseded');
  if (live.some((a) => !FINAL_STATES.includes(a.state))) return;
  const rec = await journal.get(runId);
  if (rec?.status !== 'awaiting_approval') return;
  const n = (st: string) => live.filter((a) => a.state === st).length;
  let status: RunStatus;
  if (!live.length || n('applied') === live.length) status = 'completed';
  else if (n('applied')) status = 'partial';
  else if (n('failed')) status = 'failed';
  else if (n('expired') === live.length) status = 'expired';
  else status = 'rejected';
  rec.status = status;
  rec.finishedAt = new Date(svc.clock()).toISOString();
  const lines = all.map(
    (a) =>
      `request ${a.request.id}${a.request.owner ? ` (records of user ${a.request.owner})` : ''}: ${a.state}${a.appliedRun ? ` by run ${a.appliedRun}` : ''}${a.note ? ` — ${a.note}` : ''}`,
  );
  rec.summary = { en: lines, ru: lines };
  if (status !== 'completed') rec.error = lines.filter((l) => !/: applied/.test(l)).join('; ');
  await journal.update(rec);
}
