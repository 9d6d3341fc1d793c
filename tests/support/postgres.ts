/**
 * PostgreSQL for tests: `B24FLOW_TEST_DATABASE_URL` names a server where the tests may create databases (CI starts
 * one with `.ci/postgres`). Each test file gets a fresh database, dropped at the end. Without the variable the
 * PostgreSQL suites are skipped locally, and fail in CI (`B24FLOW_REQUIRE_POSTGRES=1`), so they cannot silently
 * stop running.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The admin URL, or undefined (then PostgreSQL suites skip; see module doc). */
export const postgresUrl: string | undefined = process.env.B24FLOW_TEST_DATABASE_URL || undefined;

if (!postgresUrl && process.env.B24FLOW_REQUIRE_POSTGRES === '1')
  throw new Error('B24FLOW_REQUIRE_POSTGRES=1 but B24FLOW_TEST_DATABASE_URL is not set (see .ci/postgres)');

/** A fresh empty database on the test server: its URL and a `drop()`. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!postgresUrl) throw new Error('B24FLOW_TEST_DATABASE_URL is not set');
  const name = `b24flow_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(postgresUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: postgresUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
