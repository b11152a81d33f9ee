import { CacheAuthError, CacheConfigError, CacheUnavailableError } from '@larder/core';
import pg from 'pg';
import { type DoctorCheck, type DoctorReport, LIMITS, pass, size, unknown, warn } from './check.js';
import { quoteTable, rowChecks } from './table.js';
import type { Target } from './target.js';

/** Options for the Postgres checks. */
export interface TableDoctorOptions {
  /** The cache table. @default 'larder_cache' */
  table?: string;
}

/** Reads a live Postgres: the cache table, its persistence, rows, expired rows, size and the connection headroom. */
export async function doctorPostgres(
  target: Target,
  options: TableDoctorOptions = {},
): Promise<DoctorReport> {
  const table = options.table ?? 'larder_cache';
  const quoted = quoteTable(table, true);
  const client = await connectPostgres(target);
  try {
    const one = async (text: string, values: unknown[] = []) =>
      (await client.query(text, values)).rows[0] ?? {};
    const version = String((await one('SHOW server_version')).server_version);
    const checks: DoctorCheck[] = [];
    const found = (await one('SELECT to_regclass($1) AS oid', [quoted])).oid;
    if (found === null || found === undefined) {
      checks.push(
        warn(
          'table',
          `no table ${table}`,
          'the store creates it on first use (createTable); pass --table when the app uses another name',
        ),
      );
    } else {
      const meta = await one(
        'SELECT c.relpersistence AS persistence, pg_total_relation_size(c.oid) AS bytes FROM pg_class c WHERE c.oid = $1::regclass',
        [quoted],
      );
      checks.push(pass('table', `${table} exists`));
      checks.push(
        meta.persistence === 'u'
          ? pass('unlogged', 'UNLOGGED: no WAL for cache writes')
          : warn(
              'unlogged',
              'a logged table: every cache write goes through the WAL',
              'create the table UNLOGGED (the store’s unlogged option) for faster writes; a cache can lose its rows on a crash',
            ),
      );
      await client.query("SET statement_timeout = '10s'");
      const counts = await one(
        `SELECT count(*) AS rows, count(*) FILTER (WHERE expires_at <= $1) AS expired FROM ${quoted}`,
        [Date.now()],
      );
      checks.push(...rowChecks(Number(counts.rows), Number(counts.expired)));
      checks.push(pass('size', `${size(Number(meta.bytes))} with indexes and TOAST`));
    }
    checks.push(await connectionsCheck(one));
    checks.push(pass('version', `postgres ${version}`));
    return { target: target.shown, kind: 'postgres', version, checks };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function connectionsCheck(
  one: (text: string) => Promise<Record<string, unknown>>,
): Promise<DoctorCheck> {
  try {
    const row = await one(
      "SELECT current_setting('max_connections')::int AS max, count(*) AS used, count(*) FILTER (WHERE application_name = 'larder') AS larder FROM pg_stat_activity",
    );
    const max = Number(row.max);
    const used = Number(row.used);
    const read = `${used} of ${max} connections in use (${row.larder} from Larder pools)`;
    return used / max >= LIMITS.connectionsWarn
      ? warn(
          'connections',
          read,
          'near max_connections; shrink the pools (the store’s max) or put PgBouncer in front',
        )
      : pass('connections', read);
  } catch (error) {
    return unknown('connections', `could not read pg_stat_activity: ${(error as Error).message}`);
  }
}

async function connectPostgres(target: Target): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: target.raw,
    connectionTimeoutMillis: 3000,
    application_name: 'larder-doctor',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    const code = (error as { code?: string }).code;
    const message = (error as Error).message?.split('\n')[0] ?? String(error);
    if (code === '28P01' || code === '28000') {
      throw new CacheAuthError(
        `authentication failed for ${target.shown}; check the user and password in the URL`,
      );
    }
    if (code === '3D000') throw new CacheConfigError(`${message}; check the database name in the URL`);
    throw new CacheUnavailableError(
      `cannot reach postgres at ${target.host}:${target.port} (${message}); check the host, the port and that the server runs`,
    );
  }
}
