/**
 * `b24flow dlq` with malformed entries in the queue (real CLI): `list` lists the good entries and names each bad
 * row (where it is in the store) with its parse error; `show` and `drop` work on a bad one; `replay` refuses it
 * clearly.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storesFor, tempDir } from './helpers.js';
import { runCli } from './processes.js';

const t = tempDir('b24flow-dlqbad-');
afterAll(() => t.cleanup());

describe('dlq with a malformed entry', () => {
  it('lists the rest and names the bad files; show/drop work on them; replay refuses them', async () => {
    const dataDir = join(t.dir, 'data');
    const env = {
      B24FLOW_DATA_DIR: dataDir,
      BITRIX_WEBHOOK_URL: '',
      B24_CLIENT_ID: '',
      B24_CLIENT_SECRET: '',
      HTTP_API_TOKENS: '',
    };
    const stores = await storesFor(dataDir);
    const q = stores.deadLetters;
    const good = await q.add(
      {
        name: 'ONCRMDEALADD',
        data: { FIELDS: { ID: '5' } },
        ts: 1766047124,
        key: 'ONCRMDEALADD:5',
        source: 'online',
        objectId: '5',
      },
      { error: 'deal-to-lead: needs --confirm-write', attempts: 5, pipelines: ['deal-to-lead'] },
    );
    // a torn value (not JSON) and a JSON value that is not a dead letter, as a damaged import or a hand edit leaves
    const bad = (letter_id: string, body_json: string) => ({
      letter_id,
      event_key: `bad:${letter_id}`,
      body_json,
      attempts: 0,
      error: '',
      first_seen_ms: 0,
      last_seen_ms: 0,
    });
    await stores.store.db
      .insertInto('dead_letters')
      .values([bad('torn-1', '{"id": "torn-1", "event": "ONCRM'), bad('shape-2', '{"id": "shape-2"}\n')])
      .execute();
    const where = (id: string) => `${stores.store.where}#dead_letters/${id}`;
    const exists = async (id: string) =>
      (await stores.store.db.selectFrom('dead_letters').select('letter_id').where('letter_id', '=', id).execute())
        .length === 1;

    const list = await runCli(['dlq', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${good.id}  ONCRMDEALADD #5  attempts 5`);
    expect(list.stdout).toMatch(/torn-1 {2}MALFORMED {2}\S*dead_letters\/torn-1: .*JSON/);
    expect(list.stdout).toMatch(/shape-2 {2}MALFORMED {2}\S*dead_letters\/shape-2: field event is missing/);
    expect(list.stdout).toMatch(/1 dead letter, 2 malformed/);

    const json = JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout) as {
      size: number;
      items: { id: string }[];
      malformed: { id: string; file: string; error: string }[];
    };
    expect(json.size).toBe(1);
    expect(json.items.map((i) => i.id)).toEqual([good.id]);
    expect(json.malformed.map((m) => m.id)).toEqual(['shape-2', 'torn-1']);
    expect(json.malformed[1]!.file).toBe(where('torn-1'));

    const show = await runCli(['dlq', 'show', 'torn-1'], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/status: +MALFORMED/);
    expect(show.stdout).toContain(where('torn-1'));
    expect(show.stdout).toContain('{"id": "torn-1", "event": "ONCRM');

    const replay = await runCli(['dlq', 'replay', 'shape-2', '--pipelines', t.dir], env);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(
      /dead letter shape-2 is malformed and cannot be replayed .*dead_letters\/shape-2: field event/,
    );
    expect(await exists('shape-2')).toBe(true);

    const drop = await runCli(['dlq', 'drop', 'torn-1'], env);
    expect(drop.code).toBe(0);
    expect(await exists('torn-1')).toBe(false);
    const after = JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout) as { malformed: { id: string }[] };
    expect(after.malformed.map((m) => m.id)).toEqual(['shape-2']);
    // the good entry is untouched throughout
    expect((await q.get(good.id))?.error).toBe('deal-to-lead: needs --confirm-write');
  }, 60_000);
});
