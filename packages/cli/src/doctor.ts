import type { DoctorCheck, DoctorReport } from './check.js';
import { doctorMemcached } from './memcached-doctor.js';
import { doctorPostgres } from './postgres-doctor.js';
import { doctorRedis } from './redis-doctor.js';
import { doctorSqlite } from './sqlite-doctor.js';
import { parseTarget, scrub } from './target.js';

/** Options for `doctor`. */
export interface DoctorOptions {
  /** Redis: keys sampled for the expiry check. @default 1000 */
  sample?: number;
  /** Postgres / SQLite: the cache table. @default 'larder_cache' */
  table?: string;
  /** rediss://: accept a certificate that does not verify. @default false */
  insecure?: boolean;
}

/**
 * Reads a live server (a `redis://`, `rediss://`, `memcached://` or `postgres://` URL, or a
 * SQLite file) and judges it against the deployment checklist. An unreachable server, a wrong
 * password or an unknown scheme rejects with a `CacheError` whose message holds no secret.
 */
export async function doctor(input: string, options: DoctorOptions = {}): Promise<DoctorReport> {
  const target = parseTarget(input);
  const report =
    target.kind === 'redis'
      ? await doctorRedis(target, { sample: options.sample, insecure: options.insecure })
      : target.kind === 'memcached'
        ? await doctorMemcached(target)
        : target.kind === 'postgres'
          ? await doctorPostgres(target, { table: options.table })
          : await doctorSqlite(target, { table: options.table });
  // Whatever a server echoed back, the password never leaves this function.
  return JSON.parse(scrub(JSON.stringify(report), target.secret)) as DoctorReport;
}

const WIDTH = { status: 8 };

/** The report as terminal lines: one per check, then a summary. */
export function formatReport(report: DoctorReport): string {
  const nameWidth = Math.max(...report.checks.map((c) => c.name.length)) + 2;
  const lines = [
    `larder doctor ${report.target} (${report.kind}${report.version ? ` ${report.version}` : ''})`,
    '',
  ];
  for (const check of report.checks) lines.push(formatCheck(check, nameWidth));
  const counts = (['FAIL', 'WARN', 'PASS', 'UNKNOWN'] as const).map(
    (status) => `${report.checks.filter((c) => c.status === status).length} ${status}`,
  );
  lines.push('', counts.join(', '));
  return `${lines.join('\n')}\n`;
}

function formatCheck(check: DoctorCheck, nameWidth: number): string {
  const head = `${check.status.padEnd(WIDTH.status)}${check.name.padEnd(nameWidth)}${check.read}`;
  return check.fix === '' ? head : `${head} — fix: ${check.fix}`;
}
