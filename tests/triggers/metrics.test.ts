/**
 * `/metrics` and the service log of a real `b24flow serve` (issue 15): the scrape parses with a strict Prometheus text
 * parser (parse-prometheus-text-format, plus a line grammar check), the REST latency, run and step histograms carry
 * buckets, sum and count, the portal's 503 and 429 answers are counted by code; every stderr line is a pino JSON
 * line, the log file (`B24FLOW_LOG_FILE`) is 0600, and the audit log rotates past a tiny `B24FLOW_AUDIT_MAX_MB`
 * without losing a line.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { tempDir } from './helpers.js';
import { runCli, startServe } from './processes.js';

const t = tempDir('b24flow-metrics-');
let sb: SandboxHandle;
beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', operatingLimit: 0, quiet: true, size: 10 });
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});

/** The env of a child on the test's sandbox, by webhook (no embedded sandbox, so no hint on stderr). */
function onSandbox(dataDir: string): NodeJS.ProcessEnv {
  return {
    B24FLOW_DATA_DIR: dataDir,
    BITRIX_WEBHOOK_URL: sb.webhookUrl,
    B24_CLIENT_ID: '',
    B24_CLIENT_SECRET: '',
    B24_PLAN: 'enterprise',
    HTTP_API_TOKENS: '',
    B24FLOW_SHUTDOWN_GRACE_MS: '1000',
  };
}

// text exposition format 0.0.4: comments, and `name{label="value",...} value` samples
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$/;
const COMMENT =
  /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A scrape: each family's TYPE and its samples (the family's own and its `_bucket`/`_sum`/`_count`). */
type Scrape = Map<string, { type: string; samples: Sample[] }>;

/**
 * Parses a scrape strictly: every line fits the 0.0.4 grammar, each family has HELP then TYPE before its samples,
 * samples belong to the family just declared (a histogram's only as `_bucket{le}`, `_sum`, `_count`). The whole text
 * must also pass parse-prometheus-text-format (an independent parser that throws on a malformed line; its histogram
 * output ignores labels, so the series are read here).
 */
function parseStrict(text: string): Scrape {
  expect(() => parsePrometheusTextFormat(text)).not.toThrow();
  const out: Scrape = new Map();
  let current: { name: string; type?: string; help: boolean } | undefined;
  for (const line of text.split('\n').filter(Boolean)) {
    expect(SAMPLE.test(line) || COMMENT.test(line), line).toBe(true);
    const c = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (c) {
      if (c[1] === 'HELP') {
        expect(out.has(c[2]!), `${c[2]} declared twice`).toBe(false);
        current = { name: c[2]!, help: true };
      } else {
        expect(current?.name, line).toBe(c[2]);
        current!.type = c[3]!;
        out.set(c[2]!, { type: c[3]!, samples: [] });
      }
      continue;
    }
    const name = /^[^{ ]+/.exec(line)![0];
    const labels: Record<string, string> = {};
    for (const m of (/\{(.*)\}/.exec(line)?.[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"/g))
      labels[m[1]!] = m[2]!;
    const fam = current?.type ? out.get(current.name) : undefined;
    expect(fam, `sample before TYPE: ${line}`).toBeDefined();
    if (current!.type === 'histogram') {
      expect([`${current!.name}_bucket`, `${current!.name}_sum`, `${current!.name}_count`], line).toContain(name);
      if (name.endsWith('_bucket')) expect(labels.le, line).toBeDefined();
    } else expect(name, line).toBe(current!.name);
    fam!.samples.push({ name, labels, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

const has = (l: Record<string, string>, want: Record<string, string>) =>
  Object.entries(want).every(([k, v]) => l[k] === v);

/** Checks the histogram series with `labels`: cumulative buckets ending at +Inf = `_count`, `_sum` ≥ 0; its count. */
function histogram(s: Scrape, name: string, labels: Record<string, string>): { count: number; sum: number } {
  const fam = s.get(name);
  expect(fam?.type, name).toBe('histogram');
  const buckets = fam!.samples
    .filter((x) => x.name === `${name}_bucket` && has(x.labels, labels))
    .map((x) => ({ le: x.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(x.labels.le), n: x.value }))
    .sort((a, b) => a.le - b.le);
  expect(buckets.length, `${name} ${JSON.stringify(labels)}`).toBeGreaterThan(1);
  expect(buckets.at(-1)!.le).toBe(Number.POSITIVE_INFINITY);
  for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.n).toBeGreaterThanOrEqual(buckets[i - 1]!.n);
  const count = fam!.samples.find((x) => x.name === `${name}_count` && has(x.labels, labels))!.value;
  const sum = fam!.samples.find((x) => x.name === `${name}_sum` && has(x.labels, labels))!.value;
  expect(count).toBe(buckets.at(-1)!.n);
  expect(sum).toBeGreaterThanOrEqual(0);
  return { count, sum };
}

/** The sum of a counter's series whose labels include `labels`. */
function counter(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const fam = s.get(name);
  expect(fam?.type, name).toBe('counter');
  return fam!.samples.filter((x) => has(x.labels, labels)).reduce((n, x) => n + x.value, 0);
}

/** A gauge's value (unlabelled). */
function gauge(s: Scrape, name: string): number {
  const fam = s.get(name);
  expect(fam?.type, name).toBe('gauge');
  return fam!.samples[0]!.value;
}

describe('metrics and logs of a real serve', () => {
  it('scrapes histograms and answers by code after runs; logs JSON lines, redacted, to stderr and a 0600 file', async () => {
    const dir = join(t.dir, 'pipelines');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'tick.yaml'),
      'name: tick\ntriggers:\n  - schedule: { cron: "* * * * * *" }\nsteps:\n  - id: me\n    method: user.current\n',
    );
    // its only call is refused with 429 OPERATION_TIME_LIMIT: the method is parked, the run waits until shutdown
    writeFileSync(
      join(dir, 'parked.yaml'),
      'name: parked\ntriggers:\n  - schedule: { cron: "* * * * * *" }\nsteps:\n  - id: deals\n    method: crm.deal.list\n',
    );
    await sb.admin.faults({ method: 'user.current', kind: '503', count: 1 });
    await sb.admin.faults({ method: 'crm.deal.list', kind: '429', count: 1 });
    const logFile = join(t.dir, 'logs', 'serve.log');
    const s = await startServe(['--pipelines', dir], { ...onSandbox(join(t.dir, 'data')), B24FLOW_LOG_FILE: logFile });
    let scrape: Scrape;
    try {
      const forged = await fetch(`${s.url}/bitrix/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'event=ONCRMDEALADD&data[FIELDS][ID]=1&auth[member_id]=x&auth[application_token]=forged-token-value',
      });
      expect(forged.status).toBe(401);
      for (let i = 0; ; i++) {
        const text = await (await fetch(`${s.url}/metrics`)).text();
        scrape = parseStrict(text);
        const runs = counter(scrape, 'b24flow_runs_total', { pipeline: 'tick', status: 'succeeded' });
        if (runs >= 2 && counter(scrape, 'b24flow_rest_responses_total', { code: 'OPERATION_TIME_LIMIT' }) >= 1) break;
        if (i > 100) throw new Error(`no runs yet:\n${text}\n${s.stderr()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const res = await fetch(`${s.url}/metrics`);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      scrape = parseStrict(await res.text());
    } finally {
      s.child.kill('SIGTERM');
    }
    expect((await s.exited).code).toBe(0);

    // request latency per method and transport (a read goes over REST 2 or 3, as the catalog routes it)
    const rest = 'b24flow_rest_request_duration_seconds';
    const transport = scrape!.get(rest)!.samples.find((x) => x.labels.method === 'user.current')?.labels.transport;
    expect(transport).toMatch(/^rest[23]$/);
    // the 503 answer and its resend are both exchanges
    const latency = histogram(scrape!, rest, { method: 'user.current', transport: transport! });
    expect(latency.count).toBeGreaterThanOrEqual(3);
    expect(latency.sum).toBeGreaterThan(0);
    // answers by status and code: the portal's 503 and 429 included
    const answers = 'b24flow_rest_responses_total';
    expect(counter(scrape!, answers, { status: '503', code: 'QUERY_LIMIT_EXCEEDED' })).toBe(1);
    expect(counter(scrape!, answers, { status: '429', code: 'OPERATION_TIME_LIMIT' })).toBe(1);
    expect(counter(scrape!, answers, { status: '200', code: 'OK' })).toBeGreaterThanOrEqual(2);
    // run and step durations of the trigger runs
    const run = { pipeline: 'tick', trigger: 'schedule', status: 'succeeded' };
    expect(histogram(scrape!, 'b24flow_run_duration_seconds', run).count).toBeGreaterThanOrEqual(2);
    const step = { pipeline: 'tick', step: 'me' };
    expect(histogram(scrape!, 'b24flow_step_duration_seconds', step).count).toBeGreaterThanOrEqual(2);
    // the limiter's waits are a counter; queue sizes and pending approvals are gauges
    expect(counter(scrape!, 'b24flow_limiter_wait_seconds_total')).toBeGreaterThanOrEqual(0);
    for (const g of ['b24flow_dlq_entries', 'b24flow_jobs_queued', 'b24flow_up'])
      expect(gauge(scrape!, g)).toBeGreaterThanOrEqual(0);
    expect(gauge(scrape!, 'b24flow_approvals_pending')).toBe(0);
    expect(gauge(scrape!, 'b24flow_up')).toBe(1);
    expect(counter(scrape!, 'b24flow_events_rejected_total', { reason: 'unknown-portal' })).toBe(1);
    // no gauge is named like a counter
    for (const [name, f] of scrape!) if (name.endsWith('_total')) expect(f.type, name).toBe('counter');

    // every stderr line is a pino JSON line; the messages stay the same text
    const lines = s.stderr().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    const records = lines.map((l) => JSON.parse(l) as { level: number; time: string; msg: string });
    for (const r of records) {
      expect(typeof r.level).toBe('number');
      expect(Number.isNaN(Date.parse(r.time))).toBe(false);
      expect(typeof r.msg).toBe('string');
    }
    expect(records.map((r) => r.msg)).toContainEqual(
      expect.stringMatching(/^online event rejected \(401 unknown-portal\) from /),
    );
    expect(records.at(-1)!.msg).toBe('serve: stopped');
    const code = new URL(sb.webhookUrl).pathname.split('/').filter(Boolean).at(-1)!;
    expect(s.stderr()).not.toContain(code);
    expect(s.stderr()).not.toContain('forged-token-value');
    // the same lines in the log file (pino-roll numbers it), mode 0600
    const files = readdirSync(join(t.dir, 'logs')).filter((f) => f.startsWith('serve.'));
    expect(files.length).toBeGreaterThan(0);
    const file = join(t.dir, 'logs', files.sort().at(-1)!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const inFile = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).msg);
    expect(inFile).toContain('serve: stopped');
  }, 60_000);

  it('the audit log rotates past B24FLOW_AUDIT_MAX_MB; no line is lost across the rotations; files stay 0600', async () => {
    const data = join(t.dir, 'audit-data');
    // ~0.5 KB per file: three lines of ~140 bytes each, so eight calls rotate twice
    const env = { ...onSandbox(data), B24FLOW_AUDIT_MAX_MB: '0.0005' };
    const N = 8;
    for (let i = 0; i < N; i++) {
      const r = await runCli(['call', 'user.current'], env);
      expect(r.code, r.stderr).toBe(0);
    }
    const dir = join(data, 'audit');
    const files = readdirSync(dir).filter((f) => /^calls(\.\d+)?\.jsonl$/.test(f));
    expect(files).toContain('calls.2.jsonl');
    const all: { method: string }[] = [];
    for (const f of files) {
      expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
      const text = readFileSync(join(dir, f), 'utf8');
      // a file holds whole lines only, and stays under the cap unless one line is larger
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.split('\n').filter(Boolean);
      if (lines.length > 1) expect(Buffer.byteLength(text)).toBeLessThanOrEqual(Math.round(0.0005 * 1024 * 1024));
      for (const l of lines) all.push(JSON.parse(l));
    }
    expect(all.filter((r) => r.method === 'user.current')).toHaveLength(N);
  }, 60_000);
});
