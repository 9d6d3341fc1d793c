/**
 * The trail on the record: after an approved run, each touched CRM record (lead, deal, contact, company) gets a
 * timeline comment naming the approvers, the pipeline, the run and the change (field: before → after).
 * Source: api-reference/crm/timeline/comments/crm-timeline-comment-add.html (ENTITY_TYPE, ENTITY_ID, COMMENT).
 */
import type { PipelineClient } from '../client.js';
import { touchedRecord } from '../run/plan.js';
import type { PlannedWrite, RunResult } from '../run/types.js';

/** ENTITY_TYPE of crm.timeline.comment.add by CRM entity type id. */
const TIMELINE_TYPES: Record<number, string> = { 1: 'lead', 2: 'deal', 3: 'contact', 4: 'company' };

const CREATE_TYPES: Record<string, number> = { lead: 1, deal: 2, contact: 3, company: 4 };

/** A value in a comment: short, strings quoted. */
function shown(v: unknown): string {
  const s = typeof v === 'string' ? `"${v}"` : v === null || v === undefined ? '—' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** The record a write touched after the run: updates/deletes name it; a create's id is its result. */
function recordAfter(w: PlannedWrite, run: RunResult): { entityTypeId: number; id: string } | undefined {
  const known = w.record ?? touchedRecord(w.method, w.params);
  if (known) return known;
  const m = /^crm\.(lead|deal|contact|company)\.add$/i.exec(w.method);
  if (!m) return undefined;
  const step = run.steps.find((s) => s.id === w.step);
  const id = step?.results?.[w.item ?? 0];
  return typeof id === 'number' || (typeof id === 'string' && /^\d+$/.test(id))
    ? { entityTypeId: CREATE_TYPES[m[1]!.toLowerCase()]!, id: String(id) }
    : undefined;
}

/** The comment text of one write. */
export function trailText(
  w: PlannedWrite,
  o: { approvers: string[]; pipeline: string; runId: string; requestId: string },
): string {
  const change = w.diff?.length
    ? w.diff.map((d) => `${d.field}: ${shown(d.before)} → ${shown(d.after)}`).join('; ')
    : `${w.method}`;
  return [
    `b24flow: change approved by ${o.approvers.join(', ')}`,
    `pipeline ${o.pipeline}, run ${o.runId}, request ${o.requestId}`,
    change,
  ].join('\n');
}

/**
 * Adds the trail comments of the writes a run made (writes not sent — refused, not approved — get none), one
 * batch per 50 records. Failures are returned, never thrown: the change is made, its trail is best effort.
 * @returns comments added and the errors
 */
export async function addTrail(
  client: PipelineClient,
  run: RunResult,
  writes: readonly PlannedWrite[],
  o: { approvers: string[]; pipeline: string; requestId: string },
): Promise<{ added: number; errors: string[] }> {
  const cmds: Record<string, { method: string; params: Record<string, unknown> }> = {};
  let i = 0;
  for (const w of writes) {
    if (w.refused) continue;
    const rec = recordAfter(w, run);
    const type = rec ? TIMELINE_TYPES[rec.entityTypeId] : undefined;
    if (!rec || !type || /\.delete$/i.test(w.method)) continue;
    cmds[`t${i++}`] = {
      method: 'crm.timeline.comment.add',
      params: {
        fields: {
          ENTITY_TYPE: type,
          ENTITY_ID: Number(rec.id),
          COMMENT: trailText(w, { ...o, runId: run.runId }),
        },
      },
    };
  }
  const keys = Object.keys(cmds);
  let added = 0;
  const errors: string[] = [];
  for (let k = 0; k < keys.length; k += 50) {
    const chunk = Object.fromEntries(keys.slice(k, k + 50).map((x) => [x, cmds[x]!]));
    try {
      const r = await client.batch(chunk, { halt: false });
      added += Object.keys(r.results ?? {}).length;
      for (const [key, e] of Object.entries(r.errors ?? {}))
        errors.push(`${key}: ${(e as { message?: string })?.message ?? String(e)}`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return { added, errors };
}
