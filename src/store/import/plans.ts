/**
 * Import of stored plans (`<dataDir>/plans/<id>.json`, used when `<id>.used` exists) and of the plan seal key
 * (`<dataDir>/plan-key`, 32 bytes). The key is imported when the store has none yet, so that the imported plans'
 * ids still verify; when the store already has another key, plans sealed with the file's key could never be applied
 * and are skipped.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PLAN_ID, PLAN_KEY_BYTES, type StoredPlan } from '../../pipeline/index.js';
import type { Store } from '../db.js';
import { PLAN_KEY_SETTING, planKeyOf } from '../plans.js';
import type { ImportResult } from './importers.js';

/**
 * Imports the plan key and the plans of `dataDir` (plans already in the store are skipped: idempotent).
 * @returns plans imported and skipped
 */
export async function importPlans(store: Store, dataDir: string): Promise<ImportResult> {
  const r: ImportResult = { imported: 0, skipped: 0 };
  const dir = join(dataDir, 'plans');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
  let fileKey: Buffer | undefined;
  try {
    fileKey = await readFile(join(dataDir, 'plan-key'));
  } catch {
    // no key file: plans (if any) cannot be verified by any key the store has
  }
  if (fileKey?.length === PLAN_KEY_BYTES)
    await store.db
      .insertInto('settings')
      .values({ name: PLAN_KEY_SETTING, value: fileKey.toString('base64'), updated_ms: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  const sameKey = !!fileKey && fileKey.length === PLAN_KEY_BYTES && (await planKeyOf(store)).equals(fileKey);
  for (const n of files.sort()) {
    const id = n.slice(0, -5);
    if (!PLAN_ID.test(id) || !sameKey) {
      r.skipped++;
      continue;
    }
    let stored: StoredPlan;
    try {
      stored = JSON.parse(await readFile(join(dir, n), 'utf8')) as StoredPlan;
    } catch {
      r.skipped++;
      continue;
    }
    const used = await stat(join(dir, `${id}.used`)).then(
      (s) => s.mtimeMs,
      () => null,
    );
    const created = Date.parse(stored.plan?.createdAt ?? '');
    const expires = Date.parse(stored.plan?.expiresAt ?? '');
    const res = await store.db
      .insertInto('plans')
      .values({
        plan_id: id,
        body_json: JSON.stringify(stored),
        created_ms: Number.isFinite(created) ? created : Date.now(),
        expires_ms: Number.isFinite(expires) ? expires : 0,
        used_ms: used === null ? null : Math.floor(used),
      })
      .onConflict((oc) => oc.column('plan_id').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0)) r.imported++;
    else r.skipped++;
  }
  return r;
}
