/**
 * Batch decisions: how many commands go into one `batch` request, which commands may never sit in one (those whose
 * params carry batch syntax), and which single reads are packed together.
 * Source: Bitrix24 `batch` (settings/how-to-call-rest-api/batch.md): ≤ 50 commands, `$result[...]` references.
 */
import { BATCH_LIMIT } from '../../bitrix/batch.js';
import type { StepGraph } from '../graph.js';
import type { Step } from '../load.js';
import type { StepMethod } from '../modes.js';

/** Commands per batch request (the client's limit). */
export const BATCH_SIZE = BATCH_LIMIT;

/**
 * Legacy CRM creates (`crm.deal.add`, …): b24flow sets `ORIGIN_ID` on them so that an uncertain create can be looked
 * up after a crash.
 */
export const LEGACY_CRM_ADD = /^crm\.(deal|lead|contact|company)\.add$/i;

/** Batch syntax (`$result[...]`, `$error[...]`, …) inside a value: such a command must go alone, not in a batch. */
export const BATCH_SYNTAX = /\$(result|error|result_error|result_next|result_total)\[/;

/** True when a params value (recursively) contains batch syntax. */
export function containsBatchSyntax(v: unknown): boolean {
  if (typeof v === 'string') return BATCH_SYNTAX.test(v);
  if (Array.isArray(v)) return v.some(containsBatchSyntax);
  if (v && typeof v === 'object') return Object.values(v).some(containsBatchSyntax);
  return false;
}

/**
 * The pipeline's one batch splitter: `items` in consecutive chunks of at most `size` (default {@link BATCH_SIZE}).
 * @param size ≥ 1
 */
export function chunked<T>(items: readonly T[], size: number = BATCH_SIZE): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A read that may ride along in another read's batch: a plain single read without `if`, retry or fan-out. */
export function isPackableRead(s: Step, m: StepMethod | undefined): boolean {
  return (
    m?.risk === 'read' &&
    m.batchable !== false &&
    !s.foreach &&
    !s.all &&
    s.if === undefined &&
    !s.retry &&
    !s.use &&
    !s.pipeline
  );
}

/** A read that may lead a group of packed reads (its own `if` is evaluated before the group is sent). */
export function canLeadReads(s: Step, m: StepMethod | undefined): boolean {
  return m?.risk === 'read' && !s.foreach && !s.all && !s.use && !s.pipeline;
}

/**
 * Groups of independent single reads sent in one batch (≤ {@link BATCH_SIZE} each), in execution order: a group's
 * leader is the first read that can lead; later packable reads join when every step they depend on runs before the
 * leader. At run time a member whose dependencies did not finish (failed, skipped, planned) stays out and runs in
 * its own turn.
 * @returns leader id → member ids (leader first); only groups of two or more
 */
export function readGroups(
  order: readonly string[],
  byId: ReadonlyMap<string, Step>,
  methodOf: (s: Step) => StepMethod | undefined,
  graph: StepGraph,
): string[][] {
  const groups: string[][] = [];
  const before = new Set<string>();
  const taken = new Set<string>();
  order.forEach((id, i) => {
    if (taken.has(id)) return;
    const s = byId.get(id)!;
    if (canLeadReads(s, methodOf(s))) {
      const group = [id];
      for (let j = i + 1; j < order.length && group.length < BATCH_SIZE; j++) {
        const t = byId.get(order[j]!)!;
        if (taken.has(t.id) || !isPackableRead(t, methodOf(t))) continue;
        if ([...(graph.deps.get(t.id) ?? [])].every((d) => before.has(d))) group.push(t.id);
      }
      if (group.length > 1) {
        groups.push(group);
        for (const g of group) taken.add(g);
      }
      for (const g of group) before.add(g);
    } else before.add(id);
  });
  return groups;
}
