/**
 * Output of `b24flow approvals …` (see src/cli/commands/approvals.ts): lists, one request in words, decisions.
 */
import { InvalidInputError } from '../../lib/failures.js';
import { type ApprovalService, approvalLines, type DecisionResult, type StoredApproval } from '../../pipeline/index.js';
import { connectPortal, readSettings } from '../compose.js';
import { approvalService, storeRunSettings } from '../runSettings.js';
import { jsonText } from './jsonOut.js';

function out(s: string): void {
  process.stdout.write(s);
}

/** The approval service over the configured portal and the store; closed by the callback's end. */
async function withService<T>(fn: (svc: ApprovalService) => Promise<T>): Promise<T> {
  const r = await storeRunSettings(readSettings());
  const conn = await connectPortal();
  try {
    return await fn(approvalService(r, conn.client));
  } finally {
    await conn.close();
  }
}

/** One line of a list. */
function row(a: StoredApproval): string {
  const q = a.request;
  const ok = a.decisions.filter((d) => d.decision === 'approve').length;
  const who = q.owner ? `records of user ${q.owner}` : 'all records';
  return `${q.id}  ${a.state.padEnd(10)}  ${q.pipeline.name}  ${q.writes.length} write(s), ${who}  approvals ${ok}/${q.min}  expires ${q.expiresAt}${q.destructive ? '  ⚠ deletes' : ''}${a.verified ? '' : '  ✗ TAMPERED'}`;
}

/** `approvals list`. */
export async function approvalsList(o: { all?: boolean; json?: boolean }): Promise<void> {
  await withService(async (svc) => {
    const list = await svc.list(o.all ? {} : { state: ['pending', 'applying'] });
    if (o.json) return out(jsonText(list));
    out(
      list.length
        ? `${list.map(row).join('\n')}\n`
        : o.all
          ? 'no approval requests\n'
          : 'no pending approval requests\n',
    );
  });
}

/** `approvals show <id>`. */
export async function approvalsShow(id: string, o: { json?: boolean }): Promise<void> {
  await withService(async (svc) => {
    const a = await svc.get(id);
    if (!a) throw new InvalidInputError(`unknown approval request "${id}"`);
    const lines = await approvalLines(svc, a, 'en');
    if (o.json) return out(jsonText({ ...a, lines }));
    out(`${lines.join('\n')}\n`);
  });
}

/** `approvals approve|reject <id> --as <user>`: exit 0 when recorded, 2 when refused (nothing recorded). */
export async function approvalsDecide(
  op: 'approve' | 'reject',
  id: string,
  o: { as: string; hash?: string; reason?: string; confirmDestructive?: boolean; json?: boolean },
): Promise<void> {
  if (!/^\d+$/.test(o.as)) throw new InvalidInputError(`--as must be a Bitrix24 user id, got "${o.as}"`);
  await withService(async (svc) => {
    // a refusal (ApprovalRefused, exit 2) goes out through the CLI's one error path, as JSON under --json
    const r: DecisionResult =
      op === 'approve'
        ? await svc.approve(id, {
            by: o.as,
            via: 'cli',
            ...(o.hash ? { hash: o.hash } : {}),
            ...(o.confirmDestructive ? { confirmDestructive: true } : {}),
          })
        : await svc.reject(id, { by: o.as, via: 'cli', ...(o.reason ? { reason: o.reason } : {}) });
    if (o.json) return out(jsonText(r));
    const s = r.approval;
    const lines = [`${s.request.id}: ${s.state}`];
    if (r.waitingFor) lines.push(`waiting for ${r.waitingFor} more approval(s)`);
    if (r.reasked) lines.push(`the data changed since it was asked: asked again as ${r.reasked.id}`);
    if (r.run) lines.push(`run ${r.run.runId}: ${r.run.status}`, ...r.run.summary.map((l) => `  ${l}`));
    if (r.trail?.added) lines.push(`trail: ${r.trail.added} timeline comment(s)`);
    if (s.note) lines.push(s.note);
    out(`${lines.join('\n')}\n`);
    if (s.state === 'failed') process.exitCode = 1;
  });
}
