/** The durable store (SQLite by default, PostgreSQL to scale out): see ./db.ts. */
export * from './db.js';
export * from './schema.js';
