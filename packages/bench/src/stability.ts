import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchBackend, type Driver, larderDriver } from './backends/backend.js';
import { type Dataset, STABILITY_KEYS_PER_WORKER, STABILITY_WORKERS, stabilityKey } from './data.js';
import { formatCount, formatSeconds } from './format.js';
import type { PhaseHandle } from './progress.js';
import { quantile } from './stats.js';
import type { Run, SideStability } from './types.js';
import { mixed } from './workloads/mixed.js';

/** Slack added to the deadline before an operation counts as late (RELIABILITY.md's ε). */
export const SLACK_MS = 50;
/** A raw operation still pending after this long is counted as hung and no longer waited for. */
export const HANG_CAP_MS = 5000;
/** Recovery longer than this is reported as "no recovery". */
export const RECOVERY_CAP_MS = 15_000;

/** Issues `count` operations of the mixed workload (90 % get, 10 % set) at once and times each. */
export async function burst(driver: Driver, data: Dataset, count: number) {
  const latencies: number[] = [];
  let errors = 0;
  const op = mixed.op(driver, data, 0);
  const one = async () => {
    const t0 = performance.now();
    await op().catch(() => errors++);
    latencies.push(performance.now() - t0);
  };
  await Promise.all(Array.from({ length: count }, one));
  return { inFlight: count, errors, p99Ms: quantile(latencies, 0.99), maxMs: Math.max(...latencies) };
}

/** One operation of the fault load: when it started and ended (0 while pending) and how. */
type OpRecord = { start: number; end: number; outcome: 'ok' | 'hit' | 'error' | 'hung' | undefined };

/** Runs `call`, recording it; an operation still pending after `HANG_CAP_MS` is recorded as hung. */
async function record(records: OpRecord[], call: () => Promise<unknown>, read: boolean): Promise<void> {
  const op: OpRecord = { start: performance.now(), end: 0, outcome: undefined };
  records.push(op);
  const cap = new AbortController();
  const outcome = (value: unknown) => (read && value !== undefined ? 'hit' : 'ok');
  const done = call().then(outcome, () => 'error' as const);
  op.outcome = await Promise.race([done, sleep(HANG_CAP_MS, 'hung' as const, { signal: cap.signal })]);
  cap.abort();
  op.end = performance.now();
}

/** Waits for the first read started at or after `since` that returned a value; undefined past the cap. */
async function firstHitAfter(records: readonly OpRecord[], since: number): Promise<number | undefined> {
  while (performance.now() < since + RECOVERY_CAP_MS) {
    const hit = records.find((r) => r.start >= since && r.outcome === 'hit');
    if (hit) return hit.end;
    await sleep(5);
  }
  return undefined;
}

/**
 * Kills and restarts the server, then freezes and thaws it (SIGSTOP / SIGCONT), under a load of
 * a few workers each writing a key and reading it back every 5 ms through one side.
 */
export async function faultRuns(driver: Driver, backend: BenchBackend, run: Run, phase: PhaseHandle) {
  const { data, options } = run;
  const records: OpRecord[] = [];
  let running = true;
  const worker = async (w: number) => {
    for (let j = 0; running; j++) {
      const key = stabilityKey(w, j % STABILITY_KEYS_PER_WORKER);
      await record(records, () => driver.set(key, data.values[0]), false);
      await record(records, () => driver.get(key), true);
      await sleep(5);
    }
  };
  const workers = Array.from({ length: STABILITY_WORKERS }, (_, w) => worker(w));
  const target = backend.faults!;
  try {
    const results = [];
    for (const fault of ['kill', 'pause'] as const) {
      await sleep(300);
      phase.update(fault === 'kill' ? 'kill, restart' : 'SIGSTOP, SIGCONT');
      const from = performance.now();
      await (fault === 'kill' ? target.kill() : target.pause());
      await sleep(options.faultMs);
      await (fault === 'kill' ? target.restart() : target.resume());
      const back = performance.now();
      const hitAt = await firstHitAfter(records, back);
      const until = hitAt ?? performance.now();
      const window = records.filter((r) => r.start >= from && r.start <= until && r.end !== 0);
      const latencies = window.map((r) => r.end - r.start);
      results.push({
        fault: fault as 'kill' | 'pause',
        downMs: back - from,
        ops: window.length,
        errorsSurfaced: window.filter((r) => r.outcome === 'error').length,
        overDeadline: latencies.filter((ms) => ms > backend.timeoutMs + SLACK_MS).length,
        hung: window.filter((r) => r.outcome === 'hung').length,
        p99Ms: quantile(latencies, 0.99),
        maxMs: Math.max(0, ...latencies),
        recoveryMs: hitAt === undefined ? RECOVERY_CAP_MS : hitAt - back,
        recovered: hitAt !== undefined,
      });
    }
    return results;
  } finally {
    running = false;
    await Promise.all(workers);
  }
}

/** The summary cell, computed from the figures: "0 errors at 5K in flight; recovers in 0.4 s". */
export function stabilitySummary(s: Pick<SideStability, 'burst' | 'faults'>): string {
  const parts = [`${s.burst.errors} errors at ${formatCount(s.burst.inFlight)} in flight`];
  if (s.faults.length > 0) {
    const surfaced = s.faults.reduce((n, f) => n + f.errorsSurfaced, 0);
    const hung = s.faults.reduce((n, f) => n + f.hung, 0);
    parts.push(`${surfaced} surfaced under kill/SIGSTOP${hung > 0 ? `, ${hung} hung` : ''}`);
    const recovery = s.faults.map(
      (f) =>
        `${f.recovered ? '' : 'none within '}${formatSeconds(f.recoveryMs)} (${f.fault === 'kill' ? 'restart' : 'SIGCONT'})`,
    );
    parts.push(`recovers in ${recovery.join(', ')}`);
  }
  return parts.join('; ');
}

/**
 * Stability: `inFlight` operations at once on both sides, then, on servers the bench started,
 * the fault runs with the cache's defaults (ignoreErrors on); raw is faulted too, except in --quick.
 */
export async function measureStability(backend: BenchBackend, run: Run) {
  const { data, options, progress } = run;
  const phase = progress.phase(`${backend.name}: stability`, `${formatCount(options.inFlight)} in flight`);
  const measureSide = async (side: 'larder' | 'raw'): Promise<SideStability> => {
    const driver = side === 'larder' ? larderDriver(backend.larder) : backend.raw;
    const swallowed = backend.larder.stats().errors;
    const result: Omit<SideStability, 'summary'> = {
      burst: await burst(driver, data, options.inFlight),
      faults: [],
    };
    if (side === 'larder') result.burst.errors += backend.larder.stats().errors - swallowed;
    if (backend.faults === undefined)
      result.faultsSkipped = backend.faultsUnavailable ?? 'not started by the bench';
    else if (side === 'raw' && options.quick)
      result.faultsSkipped = 'quick run: raw clients are faulted in a full run only';
    else result.faults = await faultRuns(driver, backend, run, phase);
    return { ...result, summary: stabilitySummary(result) };
  };
  try {
    const larder = await measureSide('larder');
    const raw = await measureSide('raw');
    phase.done(larder.summary);
    return { larder, raw };
  } catch (error) {
    phase.done('failed');
    throw error;
  }
}
