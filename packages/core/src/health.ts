import { withDeadline } from './deadline.js';
import { StoreTimeoutError } from './errors.js';
import { checkOptions } from './options.js';
import type { StatsRecorder } from './stats.js';
import type { Store, StoreInfo } from './store.js';

/** The thresholds `cache.health()` judges against; the defaults are the reference's alert levels. */
export interface HealthThresholds {
  /** Lowest acceptable hit rate (0..1). @default 0.7 */
  minHitRate?: number;
  /** Reads needed before the hit rate is judged. @default 1000 */
  minReads?: number;
  /** Highest acceptable share of the store's memory limit in use (0..1). @default 0.8 */
  maxMemoryRatio?: number;
  /** Highest acceptable p99 latency of `get`, in ms. @default 5 */
  maxGetP99Ms?: number;
  /** Store errors tolerated between two health checks. @default 0 */
  maxErrors?: number;
}

/** `unknown`: the figure the check needs is not reported; it never makes the cache unhealthy. */
export type HealthCheckStatus = 'ok' | 'warn' | 'fail' | 'unknown';

/** One check: what was read, against what, and what to do about it. */
export interface HealthCheck {
  name: string;
  status: HealthCheckStatus;
  /** What was read; `null` when the figure is unknown. */
  value: number | string | null;
  threshold: number | string | null;
  message: string;
}

/** The result of `cache.health()`: the worst status of its checks. */
export interface HealthReport {
  status: 'ok' | 'warn' | 'fail';
  checks: HealthCheck[];
}

const DEFAULTS: Required<HealthThresholds> = {
  minHitRate: 0.7,
  minReads: 1000,
  maxMemoryRatio: 0.8,
  maxGetP99Ms: 5,
  maxErrors: 0,
};

const ratio = {
  accepts: 'a number between 0 and 1',
  check: (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1,
};
const count = { accepts: 'a number >= 0', check: (v: unknown) => typeof v === 'number' && v >= 0 };

// Error counts at the previous check, so "errors" means errors in the last interval.
const previousErrors = new WeakMap<StatsRecorder, number>();

/** Runs every health check on a cache's stats and its store's `info()`. */
export async function checkHealth(
  stats: StatsRecorder,
  store: Store,
  timeoutMs: number,
  thresholds: HealthThresholds = {},
): Promise<HealthReport> {
  checkOptions('cache.health', thresholds, {
    minHitRate: ratio,
    minReads: count,
    maxMemoryRatio: ratio,
    maxGetP99Ms: count,
    maxErrors: count,
  });
  const t = { ...DEFAULTS, ...thresholds };
  const snapshot = stats.snapshot();
  const checks: HealthCheck[] = [hitRateCheck(snapshot.hits, snapshot.misses, t)];
  const get = snapshot.latency.get;
  checks.push(
    get === undefined
      ? unknown('get-latency', t.maxGetP99Ms, 'no get has completed yet')
      : judge(
          'get-latency',
          get.p99 <= t.maxGetP99Ms ? 'ok' : 'warn',
          get.p99,
          t.maxGetP99Ms,
          get.p99 <= t.maxGetP99Ms
            ? `p99 of get is ${get.p99} ms`
            : `p99 of get is ${get.p99} ms, above ${t.maxGetP99Ms} ms; check the network path and the server's load`,
        ),
  );
  const before = previousErrors.get(stats) ?? 0;
  previousErrors.set(stats, snapshot.errors);
  // After resetStats() the counter restarts below the last reading.
  const errors = snapshot.errors >= before ? snapshot.errors - before : snapshot.errors;
  checks.push(
    judge(
      'errors',
      errors <= t.maxErrors ? 'ok' : 'warn',
      errors,
      t.maxErrors,
      errors <= t.maxErrors
        ? `${errors} store errors since the last check`
        : `${errors} store errors since the last check (codes so far: ${describeCodes(snapshot.errorsByCode)}); see the cache's error events or logs`,
    ),
  );
  let info: StoreInfo;
  try {
    info = await withDeadline(
      store.info(),
      timeoutMs,
      () =>
        new StoreTimeoutError(`${store.name} info() did not answer within ${timeoutMs} ms`, {
          store: store.name,
        }),
    );
  } catch (error) {
    checks.push(
      judge(
        'store',
        'fail',
        null,
        null,
        `the store did not answer info(): ${(error as Error)?.message ?? error}`,
      ),
    );
    return report(checks);
  }
  checks.push(judge('store', 'ok', null, null, 'the store answered info()'));
  checks.push(memoryCheck(info, t.maxMemoryRatio), policyCheck(info), poolCheck(info));
  return report(checks);
}

function hitRateCheck(hits: number, misses: number, t: Required<HealthThresholds>): HealthCheck {
  const reads = hits + misses;
  if (reads < t.minReads)
    return unknown('hit-rate', t.minHitRate, `${reads} reads so far; judged after ${t.minReads}`);
  const rate = hits / reads;
  const shown = `${(rate * 100).toFixed(1)} %`;
  return rate >= t.minHitRate
    ? judge('hit-rate', 'ok', rate, t.minHitRate, `hit rate ${shown} over ${reads} reads`)
    : judge(
        'hit-rate',
        'warn',
        rate,
        t.minHitRate,
        `hit rate ${shown} is below ${t.minHitRate * 100} %; cache what is read more often, or lengthen TTLs`,
      );
}

function memoryCheck(info: StoreInfo, max: number): HealthCheck {
  const { bytesUsed, byteLimit } = info;
  if (bytesUsed === undefined || byteLimit === undefined) {
    return unknown('memory', max, 'the store does not report its memory use and limit');
  }
  if (byteLimit === 0)
    return judge(
      'memory',
      'warn',
      bytesUsed,
      max,
      'the store has no memory limit; set one (Redis maxmemory)',
    );
  const used = bytesUsed / byteLimit;
  return used <= max
    ? judge('memory', 'ok', used, max, `${(used * 100).toFixed(1)} % of the memory limit in use`)
    : judge(
        'memory',
        'warn',
        used,
        max,
        `${(used * 100).toFixed(1)} % of the memory limit in use, above ${max * 100} %; raise the limit or store less`,
      );
}

function policyCheck(info: StoreInfo): HealthCheck {
  const policy = info.evictionPolicy;
  if (policy === undefined)
    return unknown('eviction-policy', null, 'the store does not report its eviction policy');
  return policy === 'noeviction'
    ? judge(
        'eviction-policy',
        'warn',
        policy,
        'an LRU/LFU policy',
        'noeviction makes writes fail once memory is full; set maxmemory-policy allkeys-lru for a cache',
      )
    : judge('eviction-policy', 'ok', policy, 'an LRU/LFU policy', `eviction policy ${policy}`);
}

function poolCheck(info: StoreInfo): HealthCheck {
  const { connections, maxConnections, connectionWaiters } = info;
  if (connectionWaiters === undefined) {
    return unknown('connection-pool', 0, 'the store does not report callers waiting for a connection');
  }
  if (connectionWaiters === 0)
    return judge('connection-pool', 'ok', 0, 0, 'no caller waits for a connection');
  const full = connections !== undefined && maxConnections !== undefined && connections >= maxConnections;
  return judge(
    'connection-pool',
    full ? 'fail' : 'warn',
    connectionWaiters,
    0,
    `${connectionWaiters} callers wait for a connection${full ? ` and all ${maxConnections} are in use` : ''}; raise the pool size or find slow calls`,
  );
}

function describeCodes(byCode: Record<string, number>): string {
  return (
    Object.entries(byCode)
      .map(([code, n]) => `${code} ×${n}`)
      .join(', ') || 'no code'
  );
}

function judge(
  name: string,
  status: HealthCheckStatus,
  value: number | string | null,
  threshold: number | string | null,
  message: string,
): HealthCheck {
  return { name, status, value, threshold, message };
}

function unknown(name: string, threshold: number | string | null, reason: string): HealthCheck {
  return { name, status: 'unknown', value: null, threshold, message: reason };
}

function report(checks: HealthCheck[]): HealthReport {
  const status = checks.some((c) => c.status === 'fail')
    ? 'fail'
    : checks.some((c) => c.status === 'warn')
      ? 'warn'
      : 'ok';
  return { status, checks };
}
