/**
 * The approval routes of the HTTP API (mounted by src/adapters/http/api.ts behind its API-key check):
 * - `GET /approvals[?all=1]` → `{approvals: [...]}` (pending and applying ones, or all);
 * - `GET /approvals/:id` → `{approval}` with its writes in words (`lines`), or 404;
 * - `POST /approvals/:id/approve` `{hash?, confirm_destructive?}` → `{approval, run?, reasked?, waiting_for?}`;
 * - `POST /approvals/:id/reject` `{reason?, hash?}` → `{approval}`.
 * Deciding needs an API key bound to a Bitrix24 user (`key@<user id>` in `HTTP_API_TOKENS`), else 403; a refused
 * decision (self-approval, not an approver, no edit right, closed, expired, changed, tampered, unconfirmed deletion)
 * answers 403/404/409 `{error: APPROVAL_<REASON>}` and nothing is recorded nor written.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Route, sendJson } from '../../lib/http.js';
import { redact } from '../../lib/redact.js';
import {
  ApprovalRefused,
  type ApprovalService,
  approvalLines,
  type DecisionResult,
  type StoredApproval,
} from '../../pipeline/index.js';
import { BadRequest, jsonBody, str } from './body.js';

type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void>;

/** A request as the API shows it (snake_case, like the other routes). */
function approvalJson(a: StoredApproval) {
  const q = a.request;
  return {
    id: q.id,
    state: a.state,
    pipeline: q.pipeline.name,
    run_id: q.runId,
    hash: q.hash,
    owner: q.owner ?? null,
    writes: q.writes.length,
    approvers: q.approvers,
    min: q.min,
    destructive: q.destructive,
    created_at: q.createdAt,
    expires_at: q.expiresAt,
    decisions: a.decisions.map((d) => ({
      by: d.by,
      decision: d.decision,
      via: d.via,
      at: d.at,
      ...(d.reason ? { reason: d.reason } : {}),
    })),
    ...(a.appliedRun ? { applied_run: a.appliedRun } : {}),
    ...(a.note ? { note: a.note } : {}),
    verified: a.verified,
  };
}

function decisionJson(r: DecisionResult) {
  return {
    approval: approvalJson(r.approval),
    ...(r.waitingFor ? { waiting_for: r.waitingFor } : {}),
    ...(r.run ? { run: { id: r.run.runId, status: r.run.status, summary: r.run.summary } } : {}),
    ...(r.reasked ? { reasked: r.reasked.id } : {}),
    ...(r.trail ? { trail_comments: r.trail.added } : {}),
  };
}

/** HTTP status of a refusal. */
function statusOf(e: ApprovalRefused): number {
  if (e.reason === 'unknown') return 404;
  if (['self', 'not-approver', 'no-edit-right'].includes(e.reason)) return 403;
  return 409;
}

const ID = /^a[0-9a-f]{24}$/;

/**
 * The routes (see module doc).
 * @param wrap the API's authorisation and error wrapper
 * @param userOf the Bitrix24 user the request's API key is bound to
 */
export function approvalRoutes(
  svc: ApprovalService,
  wrap: (fn: Handler) => Handler,
  userOf: (req: IncomingMessage) => string | undefined,
): Route[] {
  /** Runs a decision as the key's user; answers refusals itself. */
  const decide = (op: 'approve' | 'reject'): Handler =>
    wrap(async (req, res, params) => {
      const id = params.id ?? '';
      if (!ID.test(id)) throw new BadRequest('bad approval id');
      const by = userOf(req);
      if (!by)
        return sendJson(res, 403, {
          error: 'APPROVAL_NO_USER',
          message: 'this API key is not bound to a Bitrix24 user (HTTP_API_TOKENS entry key@<user id>)',
        });
      const body = await jsonBody(req, op === 'approve' ? ['hash', 'confirm_destructive'] : ['hash', 'reason'], true);
      const hash = str(body, 'hash', /^[0-9a-f]{8,64}$/, false);
      try {
        if (op === 'approve') {
          const cd = body.confirm_destructive ?? false;
          if (typeof cd !== 'boolean') throw new BadRequest('"confirm_destructive" must be a boolean');
          const r = await svc.approve(id, { by, via: 'http', ...(hash ? { hash } : {}), confirmDestructive: cd });
          return sendJson(res, 200, decisionJson(r));
        }
        const reason = str(body, 'reason', /^[\s\S]{1,500}$/, false);
        const r = await svc.reject(id, { by, via: 'http', ...(hash ? { hash } : {}), ...(reason ? { reason } : {}) });
        return sendJson(res, 200, decisionJson(r));
      } catch (err) {
        if (!(err instanceof ApprovalRefused)) throw err;
        return sendJson(res, statusOf(err), {
          error: `APPROVAL_${err.reason.toUpperCase().replace(/-/g, '_')}`,
          message: redact(err.message),
        });
      }
    });
  return [
    {
      method: 'GET',
      path: '/approvals',
      handler: wrap(async (req, res) => {
        const all = new URL(req.url ?? '/', 'http://x').searchParams.get('all') === '1';
        const list = await svc.list(all ? { limit: 200 } : { state: ['pending', 'applying'], limit: 200 });
        sendJson(res, 200, { approvals: list.map(approvalJson) });
      }),
    },
    {
      method: 'GET',
      path: '/approvals/:id',
      handler: wrap(async (_req, res, params) => {
        const id = params.id ?? '';
        if (!ID.test(id)) throw new BadRequest('bad approval id');
        const a = await svc.get(id);
        if (!a) return sendJson(res, 404, { error: 'NOT_FOUND', message: 'no such approval request' });
        sendJson(res, 200, { approval: { ...approvalJson(a), lines: await approvalLines(svc, a, 'en') } });
      }),
    },
    { method: 'POST', path: '/approvals/:id/approve', handler: decide('approve') },
    { method: 'POST', path: '/approvals/:id/reject', handler: decide('reject') },
  ];
}
