import { existsSync, statSync } from 'node:fs';
import { CacheConfigError } from '@larder/core';
import type BetterSqlite3 from 'better-sqlite3';
import { type DoctorCheck, type DoctorReport, pass, size, warn } from './check.js';
import type { TableDoctorOptions } from './postgres-doctor.js';
import { quoteTable, rowChecks } from './table.js';
import type { Target } from './target.js';

const WAL_WARN_BYTES = 64 * 1024 * 1024;

/** Opens a SQLite file read-only with better-sqlite3 (an optional peer), with a clear error when it is missing. */
export async function openSqlite(path: string): Promise<BetterSqlite3.Database> {
  if (!existsSync(path)) throw new CacheConfigError(`no SQLite file at ${path}; check the path`);
  let Database: typeof BetterSqlite3;
  try {
    Database = (await import('better-sqlite3')).default;
  } catch {
    throw new CacheConfigError('reading a SQLite file needs better-sqlite3; install it next to @larder/cli');
  }
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CacheConfigError(
      `${path} is not a SQLite database (${(error as Error).message}); check the path`,
    );
  }
}

/** Reads a SQLite cache file: journal mode, file and WAL size, the table, rows and expired rows. */
export async function doctorSqlite(target: Target, options: TableDoctorOptions = {}): Promise<DoctorReport> {
  const table = options.table ?? 'larder_cache';
  const quoted = quoteTable(table, false);
  const db = await openSqlite(target.raw);
  try {
    const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    const mode = String(db.pragma('journal_mode', { simple: true }));
    const wal = `${target.raw}-wal`;
    const walBytes = existsSync(wal) ? statSync(wal).size : 0;
    const checks: DoctorCheck[] = [
      mode === 'wal'
        ? pass('journal-mode', 'journal_mode wal')
        : warn(
            'journal-mode',
            `journal_mode ${mode}`,
            'use WAL (the store sets it) so readers do not block the writer',
          ),
      pass('file-size', size(statSync(target.raw).size)),
      walBytes > WAL_WARN_BYTES
        ? warn(
            'wal-size',
            size(walBytes),
            'the WAL is not being checkpointed; run PRAGMA wal_checkpoint(TRUNCATE) or end long readers',
          )
        : pass('wal-size', size(walBytes)),
    ];
    const exists = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    if (exists === undefined) {
      checks.push(
        warn(
          'table',
          `no table ${table}`,
          'the store creates it on first use; pass --table when the app uses another name',
        ),
      );
    } else {
      checks.push(pass('table', `${table} exists`));
      const counts = db
        .prepare(`SELECT count(*) AS rows, coalesce(sum(expires_at <= ?), 0) AS expired FROM ${quoted}`)
        .get(Date.now()) as { rows: number; expired: number };
      checks.push(...rowChecks(Number(counts.rows), Number(counts.expired)));
    }
    return { target: target.shown, kind: 'sqlite', version, checks };
  } finally {
    db.close();
  }
}
