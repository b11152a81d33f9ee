/** PASS: as the checklist wants; WARN: works, but should change; FAIL: fix before production; UNKNOWN: could not be read. */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL' | 'UNKNOWN';

/** One line of `larder doctor`: what was checked, what was read, and the fix in one sentence. */
export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  /** What was read from the server, e.g. `maxmemory-policy=noeviction`. */
  read: string;
  /** What to change; empty when the check passed. */
  fix: string;
}

/** Everything `larder doctor` found about one server. */
export interface DoctorReport {
  /** The target with any password replaced by `***`. */
  target: string;
  kind: 'redis' | 'memcached' | 'postgres' | 'sqlite';
  version: string | undefined;
  checks: DoctorCheck[];
}

export const pass = (name: string, read: string): DoctorCheck => ({ name, status: 'PASS', read, fix: '' });
export const warn = (name: string, read: string, fix: string): DoctorCheck => ({
  name,
  status: 'WARN',
  read,
  fix,
});
export const fail = (name: string, read: string, fix: string): DoctorCheck => ({
  name,
  status: 'FAIL',
  read,
  fix,
});
export const unknown = (name: string, reason: string): DoctorCheck => ({
  name,
  status: 'UNKNOWN',
  read: reason,
  fix: '',
});

/** A share of a whole, as `81.3 %`. */
export const percent = (part: number, whole: number): string => `${((part / whole) * 100).toFixed(1)} %`;

/** Bytes as `12.4 MB`. */
export function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** p50 and p99 of sorted-on-demand samples, in ms. */
export function quantiles(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/** The reference's thresholds, shared by every backend's checks. */
export const LIMITS = {
  minHitRate: 0.7,
  minReads: 1000,
  memoryWarn: 0.8,
  memoryFail: 0.95,
  latencyMs: 5,
  connectionsWarn: 0.8,
} as const;

/** The hit-rate check, the same for every server that counts hits and misses. */
export function hitRateCheck(hits: number | undefined, misses: number | undefined): DoctorCheck {
  if (hits === undefined || misses === undefined)
    return unknown('hit-rate', 'the server does not report hits and misses');
  const reads = hits + misses;
  if (reads < LIMITS.minReads)
    return unknown('hit-rate', `${reads} reads since the server started; judged after ${LIMITS.minReads}`);
  const read = `${percent(hits, reads)} of ${reads} reads hit`;
  return hits / reads >= LIMITS.minHitRate
    ? pass('hit-rate', read)
    : warn(
        'hit-rate',
        read,
        'below 70 % the cache does little; cache what is read most, lengthen TTLs, or check the key scheme',
      );
}

/** Memory used against the limit: warn at 80 %, fail at 95 %. */
export function memoryCheck(used: number, limit: number, raise: string): DoctorCheck {
  const read = `${size(used)} of ${size(limit)} (${percent(used, limit)})`;
  if (used / limit >= LIMITS.memoryFail) return fail('memory', read, `almost full; ${raise}`);
  if (used / limit >= LIMITS.memoryWarn) return warn('memory', read, `above the 80 % alert level; ${raise}`);
  return pass('memory', read);
}
