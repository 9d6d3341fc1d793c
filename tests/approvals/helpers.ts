/**
 * Helpers of the approval tests: the sandbox portal, a store with its approval service (real SQLite or PostgreSQL,
 * real HTTP to the sandbox), plain users in distinct departments, and duplicate contacts owned by given users.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { B24Client } from '../../src/bitrix/index.js';
import {
  ApprovalService,
  describeWrites,
  type LoadedPipeline,
  loadPipelineText,
  type PipelineClient,
  PlanNames,
  PortalDirectory,
} from '../../src/pipeline/index.js';
import { SqlApprovalStore } from '../../src/store/approvals.js';
import { SqlIdempotencyStore } from '../../src/store/idempotency.js';
import type { Store } from '../../src/store/index.js';
import { SqlJournal } from '../../src/store/journal.js';
import { SqlPlanStore } from '../../src/store/plans.js';
import { all, root } from '../pipeline/helpers.js';

/** The approval service of `client` over `store`, with a movable clock (`clock.ms` added to now). */
export function serviceOf(store: Store, client: PipelineClient, clock = { ms: 0 }): ApprovalService {
  const names = new PlanNames(client);
  return new ApprovalService({
    describe: (writes, lang) => describeWrites(writes, names, lang),
    approvals: new SqlApprovalStore(store),
    plans: new SqlPlanStore(store),
    directory: new PortalDirectory(client),
    run: { client, journal: new SqlJournal(store), idempotency: new SqlIdempotencyStore(store) },
    now: () => Date.now() + clock.ms,
  });
}

/** Users that head no department and are not user 1 (the administrator), each from another department. */
export async function plainUsers(client: B24Client, n: number): Promise<string[]> {
  const depts = await all<{ ID: string; UF_HEAD: string | number | null }>(client, 'department.get');
  const heads = new Set(depts.map((d) => String(d.UF_HEAD ?? '')));
  const users = await all<{ ID: string; ACTIVE: boolean; UF_DEPARTMENT: number[] }>(client, 'user.get');
  const out: string[] = [];
  const used = new Set<number>();
  for (const u of users) {
    const d = u.UF_DEPARTMENT?.[0];
    if (u.ID === '1' || heads.has(String(u.ID)) || !u.ACTIVE || d === undefined || used.has(d)) continue;
    used.add(d);
    out.push(String(u.ID));
    if (out.length === n) return out;
  }
  throw new Error(`the sandbox has fewer than ${n} plain users in distinct departments`);
}

/** Adds a contact with a phone, owned by `owner`; returns its id. */
export async function addContact(client: B24Client, name: string, phone: string, owner: string): Promise<number> {
  const r = await client.call<{ item: { id: number } }>('crm.item.add', {
    entityTypeId: 3,
    fields: { name, assignedById: Number(owner), fm: [{ typeId: 'PHONE', value: phone, valueType: 'WORK' }] },
  });
  return r.result.item.id;
}

/** A contact as crm.item.get shows it. */
export async function contact(client: B24Client, id: number): Promise<{ comments?: string | null }> {
  return (await client.call<{ item: { comments?: string | null } }>('crm.item.get', { entityTypeId: 3, id })).result
    .item;
}

/** Timeline comments of a contact. */
export async function comments(client: B24Client, id: number): Promise<string[]> {
  const r = await client.call<{ COMMENT: string }[]>('crm.timeline.comment.list', {
    filter: { ENTITY_ID: id, ENTITY_TYPE: 'contact' },
  });
  return (r.result ?? []).map((c) => c.COMMENT);
}

/** The duplicates pipeline of the tests: contacts sharing a phone, each owner approves their own. */
export function duplicatesPipeline(approvers = 'record_owner: true', extra = ''): LoadedPipeline {
  return loadPipelineText(
    `name: test-duplicates
packs: [core]
approvers: { ${approvers}, expires_in: 1h }
triggers:
  - schedule: { cron: "0 9 * * 1", approve: ask }
steps:
  - id: contacts
    method: crm.item.list
    all: true
    params: { entityTypeId: 3, order: { id: ASC } }
  - id: mark
    foreach: \${{ duplicatePairs(steps.contacts.result).filter(p, p.record.comments == null || !p.record.comments.startsWith("Duplicate of contact")) }}
    method: crm.item.update
    idempotency_key: \${{ "duplicate-" + item.id + "-of-" + item.of }}
    params:
      entityTypeId: 3
      id: \${{ int(item.id) }}
      fields:
        comments: { $template: "Duplicate of contact #{{ item.of }}" }
${extra}`,
    'test-duplicates.yaml',
  );
}

/** The test duplicates pipeline with a step that deletes each duplicate after marking it (a destructive request). */
export function deletingDuplicatesPipeline(): LoadedPipeline {
  return duplicatesPipeline(
    'record_owner: true',
    `  - id: drop
    foreach: \${{ duplicatePairs(steps.contacts.result) }}
    needs: [mark]
    method: crm.item.delete
    idempotency_key: \${{ "drop-" + item.id }}
    params: { entityTypeId: 3, id: "\${{ int(item.id) }}" }`,
  );
}

/** Writes the shipped weekly-duplicates pipeline into `<dataDir>/pipelines`, its schedule every 2 s; returns the dir. */
export function fastWeeklyDuplicates(dataDir: string): string {
  const dir = join(dataDir, 'pipelines');
  mkdirSync(dir, { recursive: true });
  const yaml = readFileSync(join(root, 'pipelines', 'weekly-duplicates.yaml'), 'utf8').replace(
    'cron: "0 9 * * 1"',
    'cron: "*/2 * * * * *"',
  );
  if (!yaml.includes('*/2 * * * * *')) throw new Error('weekly-duplicates.yaml no longer has the Monday 9:00 schedule');
  writeFileSync(join(dir, 'weekly-duplicates.yaml'), yaml);
  return dir;
}

/** The trigger of a scheduled run (what the scheduler passes), for asking approvers in the tests. */
export const schedule = {
  kind: 'schedule' as const,
  cron: '0 9 * * 1',
  timezone: 'UTC',
  scheduledFor: '2026-12-07T09:00:00Z',
};
