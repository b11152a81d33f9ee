import type { Cache } from '@larder/core';
import { loopStall, SLACK_MS, sleep } from '@larder/testkit/helpers';
import { expect } from 'vitest';

/** One cache call made by the load: when it started, how long it took, what it returned. */
export interface Call {
  at: number;
  ms: number;
  op: 'set' | 'get';
  ok: boolean;
  error?: unknown;
}

/** What a failover run observed; times are `performance.now()` ms. */
export interface FailoverRun {
  calls: Call[];
  faultAt: number;
  /** When the servers reported the takeover (the testkit's view: sentinels agree, or the cluster is ok). */
  promotedAt: number;
  /** The start of the first call after the last failed one: from here on every call succeeded. */
  resumedAt: number | undefined;
  /** Store failures the cache swallowed (its `error` events). */
  swallowed: number;
  /** The deadline bound: cache timeout + slack + the worst event-loop stall over the run. */
  bound: number;
  /** The last value written to each key by a call that succeeded, and when that call started. */
  written: Map<string, { value: string; at: number }>;
}

/**
 * Drives `workers` loops of `set(k, v)` then `get(k)` through `cache` (a bounded load: each loop
 * pauses `pauseMs` between rounds), injects `fault` once the load runs clean, waits for `promoted`
 * (the servers' own view of the takeover), and keeps going until no call has failed for `steadyMs`,
 * or `maxMs` after the fault.
 */
export async function runFailover(
  cache: Cache,
  options: {
    prefix: string;
    timeoutMs: number;
    fault: () => Promise<void>;
    promoted: () => Promise<void>;
    workers?: number;
    pauseMs?: number;
    steadyMs?: number;
    maxMs?: number;
  },
): Promise<FailoverRun> {
  const { workers = 4, pauseMs = 10, steadyMs = 1000, maxMs = 15_000 } = options;
  const calls: Call[] = [];
  let swallowed = 0;
  cache.on('error', () => {
    swallowed++;
  });
  let faultAt = Number.POSITIVE_INFINITY;
  let lastFailure = Number.NEGATIVE_INFINITY;
  const written: FailoverRun['written'] = new Map();
  let running = true;
  const stall = loopStall();
  const record = async <T>(op: Call['op'], call: () => Promise<T>, ok: (value: T) => boolean) => {
    const at = performance.now();
    try {
      const value = await call();
      calls.push({ at, ms: performance.now() - at, op, ok: ok(value) });
      if (!ok(value)) lastFailure = performance.now();
      return ok(value);
    } catch (error) {
      calls.push({ at, ms: performance.now() - at, op, ok: false, error });
      lastFailure = performance.now();
      return false;
    }
  };
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let round = 0; running; round++) {
      const key = `${options.prefix}w${worker}:${round % 50}`;
      const value = `${worker}:${round}`;
      const at = performance.now();
      const stored = await record(
        'set',
        () => cache.set(key, value, { ttl: 60_000 }),
        (done) => done,
      );
      if (stored) written.set(key, { value, at });
      await record(
        'get',
        () => cache.get<string>(key),
        (got) => got === value,
      );
      await sleep(pauseMs);
    }
  });

  // the load runs clean before the fault, or the test proves nothing
  await sleep(500);
  faultAt = performance.now();
  await options.fault();
  await options.promoted();
  const promotedAt = performance.now();
  const deadline = faultAt + maxMs;
  while (performance.now() < deadline && performance.now() - Math.max(lastFailure, promotedAt) < steadyMs) {
    await sleep(50);
  }
  running = false;
  await Promise.all(loops);
  const afterLastFailure = calls.filter((call) => call.at > lastFailure);
  return {
    calls,
    faultAt,
    promotedAt,
    resumedAt: afterLastFailure.length > 0 ? Math.min(...afterLastFailure.map((call) => call.at)) : undefined,
    swallowed,
    bound: options.timeoutMs + SLACK_MS + stall.stop(),
    written,
  };
}

/** What every failover test asserts: clean before, no error reaching a caller, deadlines kept, resumed and steady. */
export function expectResumed(
  run: FailoverRun,
  label: string,
  options: { storeFailed?: boolean } = {},
): number {
  const before = run.calls.filter((call) => call.at + call.ms < run.faultAt);
  expect(before.length, 'calls before the fault').toBeGreaterThan(20);
  expect(
    before.filter((call) => !call.ok),
    'failed calls before the fault',
  ).toEqual([]);
  expect(
    run.calls.filter((call) => call.error !== undefined),
    'errors that reached a caller',
  ).toEqual([]);
  const slow = run.calls.filter((call) => call.ms > run.bound);
  expect(slow, `calls slower than ${run.bound.toFixed(0)} ms`).toEqual([]);
  // the fault was real: the store failed and the cache swallowed it
  if (options.storeFailed !== false) {
    expect(run.swallowed, 'store failures swallowed by the cache').toBeGreaterThan(0);
  }
  // resumed and steady: the calls after the last failure span most of a second, all clean
  expect(run.resumedAt, 'calls after the last failure').toBeDefined();
  const resumedAt = run.resumedAt!;
  const tail = run.calls.filter((call) => call.at >= resumedAt);
  expect(tail.length, 'clean calls after resuming').toBeGreaterThan(20);
  expect(Math.max(...tail.map((call) => call.at)) - resumedAt).toBeGreaterThan(500);
  const resumeMs = resumedAt - run.faultAt;
  const failed = run.calls.filter((call) => !call.ok).length;
  console.info(
    `[failover] ${label}: servers promoted a replica ${(run.promotedAt - run.faultAt).toFixed(0)} ms after the fault; ` +
      `Larder resumed ${resumeMs.toFixed(0)} ms after the fault; ${run.calls.length} calls, ` +
      `${failed} missed or refused, ${run.swallowed} store failures swallowed, slowest call ` +
      `${Math.max(...run.calls.map((call) => call.ms)).toFixed(0)} ms (bound ${run.bound.toFixed(0)} ms)`,
  );
  return resumeMs;
}
