import { CacheConfigError } from '@larder/core';
import pg from 'pg';
import { connectRedis } from './redis-client.js';
import { pttls, scanSample } from './redis-doctor.js';
import { openSqlite } from './sqlite-doctor.js';
import { quoteTable } from './table.js';
import { parseTarget, scrub, type Target } from './target.js';

/** Options for `ttlAudit`. */
export interface TtlAuditOptions {
  /** Only keys starting with this. @default '' (all keys) */
  prefix?: string;
  /** Most keys sampled. @default 1000 */
  sample?: number;
  /** Postgres / SQLite: the cache table. @default 'larder_cache' */
  table?: string;
  /** rediss://: accept a certificate that does not verify. @default false */
  insecure?: boolean;
}

/** What `ttlAudit` found in its sample. */
export interface TtlAuditReport {
  target: string;
  kind: Target['kind'];
  sampled: number;
  /** Remaining life of the sampled keys, by range. */
  buckets: { label: string; count: number }[];
  withoutExpiry: { count: number; sample: string[] };
  /** Sampled keys by their first segments (`larder:1:`), most first. */
  prefixes: { prefix: string; count: number }[];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const RANGES: { label: string; below: number }[] = [
  { label: 'expired, not yet removed', below: 1 },
  { label: '< 1 min', below: MINUTE },
  { label: '1 – 10 min', below: 10 * MINUTE },
  { label: '10 min – 1 h', below: HOUR },
  { label: '1 – 6 h', below: 6 * HOUR },
  { label: '6 h – 1 d', below: DAY },
  { label: '1 – 7 d', below: 7 * DAY },
  { label: '> 7 d', below: Number.POSITIVE_INFINITY },
];

/** Samples keys (Redis SCAN + PTTL, never KEYS; a SELECT on a cache table) and sums up their TTLs. */
export async function ttlAudit(input: string, options: TtlAuditOptions = {}): Promise<TtlAuditReport> {
  const target = parseTarget(input);
  const prefix = options.prefix ?? '';
  const sample = options.sample ?? 1000;
  if (!(Number.isInteger(sample) && sample > 0))
    throw new CacheConfigError(`--sample ${sample} must be a positive integer`);
  let entries: [string, number][];
  if (target.kind === 'memcached') {
    throw new CacheConfigError(
      'memcached cannot list its keys, so ttl-audit cannot sample it; audit the TTLs in the app (Larder’s defaultTtl and maxTtl)',
    );
  } else if (target.kind === 'redis') {
    const client = await connectRedis(target, { insecure: options.insecure });
    try {
      const keys = await scanSample(client, `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, sample);
      const ttls = await pttls(client, keys);
      entries = keys.map((key, i): [string, number] => [key, ttls[i] ?? -2]).filter(([, ttl]) => ttl !== -2);
    } finally {
      client.disconnect();
    }
  } else {
    entries = await tableEntries(target, prefix, sample, options.table ?? 'larder_cache');
  }
  return JSON.parse(scrub(JSON.stringify(summarize(target, entries)), target.secret)) as TtlAuditReport;
}

/** Keys and ms left (-1: no expiry) from a cache table. */
async function tableEntries(
  target: Target,
  prefix: string,
  sample: number,
  table: string,
): Promise<[string, number][]> {
  const like = `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
  const now = Date.now();
  const toEntry = (row: { key: string; expires_at: unknown }): [string, number] => [
    row.key,
    row.expires_at === null ? -1 : Math.max(0, Number(row.expires_at) - now),
  ];
  if (target.kind === 'sqlite') {
    const db = await openSqlite(target.raw);
    try {
      const rows = db
        .prepare(
          `SELECT key, expires_at FROM ${quoteTable(table, false)} WHERE key LIKE ? ESCAPE '\\' LIMIT ?`,
        )
        .all(like, sample) as { key: string; expires_at: unknown }[];
      return rows.map(toEntry);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: target.raw, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query(
      `SELECT key, expires_at FROM ${quoteTable(table, true)} WHERE key LIKE $1 ESCAPE '\\' LIMIT $2`,
      [like, sample],
    );
    return rows.map(toEntry);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function summarize(target: Target, entries: [string, number][]): TtlAuditReport {
  const buckets = RANGES.map((range) => ({ label: range.label, count: 0 }));
  const persistent: string[] = [];
  const prefixes = new Map<string, number>();
  for (const [key, ttl] of entries) {
    if (ttl === -1) persistent.push(key);
    else buckets[RANGES.findIndex((range) => ttl < range.below)]!.count++;
    const group = prefixOf(key);
    prefixes.set(group, (prefixes.get(group) ?? 0) + 1);
  }
  buckets.push({ label: 'no expiry', count: persistent.length });
  return {
    target: target.shown,
    kind: target.kind,
    sampled: entries.length,
    buckets,
    withoutExpiry: { count: persistent.length, sample: persistent.slice(0, 10) },
    prefixes: [...prefixes]
      .map(([prefix, count]) => ({ prefix, count }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 10),
  };
}

/** `larder:1:users:42` → `larder:1:`; `session:abc` → `session:`. */
function prefixOf(key: string): string {
  const parts = key.split(':');
  if (parts.length >= 3) return `${parts[0]}:${parts[1]}:`;
  if (parts.length === 2) return `${parts[0]}:`;
  return '(no prefix)';
}

/** The report as a terminal histogram. */
export function formatTtlAudit(report: TtlAuditReport): string {
  const lines = [`larder ttl-audit ${report.target}: ${report.sampled} keys sampled`, ''];
  const most = Math.max(1, ...report.buckets.map((b) => b.count));
  const labelWidth = Math.max(...report.buckets.map((b) => b.label.length)) + 2;
  for (const bucket of report.buckets) {
    const bar = '█'.repeat(Math.round((bucket.count / most) * 40));
    lines.push(`${bucket.label.padEnd(labelWidth)}${String(bucket.count).padStart(6)}  ${bar}`);
  }
  lines.push('', `keys without expiry: ${report.withoutExpiry.count}`);
  for (const key of report.withoutExpiry.sample) lines.push(`  ${key}`);
  lines.push('', 'keys by prefix:');
  for (const { prefix, count } of report.prefixes) lines.push(`  ${String(count).padStart(6)}  ${prefix}`);
  return `${lines.join('\n')}\n`;
}
