import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomPrefix } from '@larder/testkit/helpers';
import { useServer } from '@larder/testkit/vitest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DoctorReport, doctor, ttlAudit } from '../src/index.js';

const status = (report: DoctorReport) => Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
const now = Date.now();

describe('larder doctor against Postgres', () => {
  const url = useServer('postgres').url;
  const client = new pg.Client({ connectionString: url });
  const logged = randomPrefix('doctor_logged_');
  const unlogged = randomPrefix('doctor_unlogged_');

  beforeAll(async () => {
    await client.connect();
    const create = (name: string, kind: string) =>
      client.query(
        `CREATE ${kind} TABLE ${name} (key text PRIMARY KEY, value bytea NOT NULL, expires_at bigint)`,
      );
    await create(logged, '');
    await create(unlogged, 'UNLOGGED');
    // 6 live rows, 4 expired rows waiting for pruning, 2 without expiry.
    for (let i = 0; i < 12; i++) {
      const expires = i < 4 ? now - 1000 : i < 10 ? now + 3_600_000 * (i - 3) : null;
      for (const table of [logged, unlogged]) {
        await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3)`, [
          `app:1:k${i}`,
          Buffer.from('v'),
          expires,
        ]);
      }
    }
  });

  afterAll(async () => {
    await client.query(`DROP TABLE IF EXISTS ${logged}, ${unlogged}`);
    await client.end();
  });

  it('reads the table: logged or UNLOGGED, rows, expired rows waiting for pruning, size, connections', async () => {
    const report = await doctor(url, { table: logged });
    expect(status(report)).toEqual({
      table: 'PASS',
      unlogged: 'WARN',
      rows: 'PASS',
      'expired-rows': 'WARN',
      size: 'PASS',
      connections: 'PASS',
      version: 'PASS',
    });
    expect(report.checks.find((c) => c.name === 'rows')?.read).toBe('12 rows');
    expect(report.checks.find((c) => c.name === 'expired-rows')?.read).toMatch(/^4 expired rows/);
    expect(status(await doctor(url, { table: unlogged })).unlogged).toBe('PASS');
  });

  it('warns about a missing table, and refuses a table name that is not an identifier', async () => {
    expect(status(await doctor(url, { table: 'no_such_cache_table' })).table).toBe('WARN');
    await expect(doctor(url, { table: 'x; DROP TABLE y' })).rejects.toThrow(/not a valid table name/);
  });

  it('ttl-audit buckets the rows by remaining life and lists the ones without expiry', async () => {
    const audit = await ttlAudit(url, { table: logged, prefix: 'app:' });
    expect(audit.sampled).toBe(12);
    const count = (label: string) => audit.buckets.find((b) => b.label === label)?.count;
    expect(count('expired, not yet removed')).toBe(4);
    expect(count('no expiry')).toBe(2);
    // Written 1 h .. 6 h ahead, a little of which has passed since.
    expect(count('10 min – 1 h')).toBe(1);
    expect(count('1 – 6 h')).toBe(5);
    expect(audit.withoutExpiry.sample.sort()).toEqual(['app:1:k10', 'app:1:k11']);
    expect(audit.prefixes).toEqual([{ prefix: 'app:1:', count: 12 }]);
  });
});

describe('larder doctor against a SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'larder-doctor-'));
  const file = join(dir, 'cache.db');

  beforeAll(() => {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec(
      'CREATE TABLE larder_cache (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires_at INTEGER) WITHOUT ROWID',
    );
    const insert = db.prepare('INSERT INTO larder_cache VALUES (?, ?, ?)');
    for (let i = 0; i < 10; i++) insert.run(`k${i}`, Buffer.from('v'), i < 5 ? now - 1000 : now + 60_000);
    db.close();
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the journal mode, file and WAL size, rows and expired rows', async () => {
    const report = await doctor(file);
    expect(report.kind).toBe('sqlite');
    expect(status(report)).toEqual({
      'journal-mode': 'PASS',
      'file-size': 'PASS',
      'wal-size': 'PASS',
      table: 'PASS',
      rows: 'PASS',
      'expired-rows': 'WARN',
    });
  });

  it('says a missing file is missing', async () => {
    await expect(doctor(join(dir, 'nope.db'))).rejects.toThrow(
      /no SQLite file at .*nope\.db; check the path/,
    );
  });
});
