/**
 * `b24flow dlq` with malformed entries in the queue (real CLI): `list` lists the good entries and names each bad
 * file with its parse error; `show` and `drop` work on a bad one; `replay` refuses it clearly.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeadLetterQueue } from '../../src/triggers/dlq.js';
import { tempDir } from './helpers.js';
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
    const q = new DeadLetterQueue(dataDir);
    const good = q.add(
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
    mkdirSync(q.dir, { recursive: true });
    // a torn write (not JSON) and a JSON value that is not a dead letter
    writeFileSync(join(q.dir, 'torn-1.json'), '{"id": "torn-1", "event": "ONCRM');
    writeFileSync(join(q.dir, 'shape-2.json'), '{"id": "shape-2"}\n');

    const list = await runCli(['dlq', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${good.id}  ONCRMDEALADD #5  attempts 5`);
    expect(list.stdout).toMatch(/torn-1 {2}MALFORMED {2}\S*torn-1\.json: .*JSON/);
    expect(list.stdout).toMatch(/shape-2 {2}MALFORMED {2}\S*shape-2\.json: field event is missing/);
    expect(list.stdout).toMatch(/1 dead letter, 2 malformed/);

    const json = JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout) as {
      size: number;
      items: { id: string }[];
      malformed: { id: string; file: string; error: string }[];
    };
    expect(json.size).toBe(1);
    expect(json.items.map((i) => i.id)).toEqual([good.id]);
    expect(json.malformed.map((m) => m.id)).toEqual(['shape-2', 'torn-1']);
    expect(json.malformed[1]!.file).toBe(join(q.dir, 'torn-1.json'));

    const show = await runCli(['dlq', 'show', 'torn-1'], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/status: +MALFORMED/);
    expect(show.stdout).toContain(join(q.dir, 'torn-1.json'));
    expect(show.stdout).toContain('{"id": "torn-1", "event": "ONCRM');

    const replay = await runCli(['dlq', 'replay', 'shape-2', '--pipelines', t.dir], env);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(
      /dead letter shape-2 is malformed and cannot be replayed .*shape-2\.json: field event/,
    );
    expect(existsSync(join(q.dir, 'shape-2.json'))).toBe(true);

    const drop = await runCli(['dlq', 'drop', 'torn-1'], env);
    expect(drop.code).toBe(0);
    expect(existsSync(join(q.dir, 'torn-1.json'))).toBe(false);
    const after = JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout) as { malformed: { id: string }[] };
    expect(after.malformed.map((m) => m.id)).toEqual(['shape-2']);
    // the good entry is untouched throughout
    expect(new DeadLetterQueue(dataDir).get(good.id)?.error).toBe('deal-to-lead: needs --confirm-write');
  }, 60_000);
});
