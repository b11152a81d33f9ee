import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BenchBackend,
  type Driver,
  type FaultTarget,
  larderDriver,
  type MemorySideName,
} from './backends/backend.js';
import { type Dataset, STABILITY_KEYS_PER_WORKER, STABILITY_WORKERS, stabilityKey } from './data.js';
import { formatCount, formatSeconds } from './format.js';
import type { PhaseHandle, Progress } from './progress.js';
import { quantile } from './stats.js';
import type { BackendResult, BurstResult, FaultResult, SideStability } from './types.js';

type StabilityResult = NonNullable<BackendResult['stability']>;

/** Slack added to the deadline before an operation counts as late (RELIABILITY.md's ε). */
export const SLACK_MS = 50;
/** A raw operation still pending after this long is counted as hung and no longer waited for. */
export const HANG_CAP_MS = 5000;
/** Recovery longer than this is reported as "no recovery". */
export const RECOVERY_CAP_MS = 15_000;
const PAUSE_BETWEEN_OPS_MS = 5;

/** Options of a stability run. */
export interface StabilityOptions {
  inFlight: number;
  faultMs: number;
  /** Run the fault runs for the raw client too (they take as long again). */
  rawFaults: boolean;
}

/** Issues `count` operations at once (90 % get, 10 % set on loaded keys) and times each. */
export async function burst(driver: Driver, data: Dataset, count: number): Promise<BurstResult> {
  const latencies = new Float64Array(count);
  let errors = 0;
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const key = data.keys[data.order[i & data.mask]!]!;
      const t0 = performance.now();
      try {
        if (data.writes[i & data.mask] === 1) await driver.set(key, data.values[i % data.values.length]);
        else await driver.get(key);
      } catch {
        errors++;
      }
      latencies[i] = performance.now() - t0;
    }),
  );
  const all = [...latencies];
  return {
    inFlight: count,
    errors,
    p99Ms: quantile(all, 0.99),
    maxMs: Math.max(...all),
  };
}

interface OpRecord {
  start: number;
  end: number;
  error: boolean;
  hung: boolean;
  /** A read that returned a value. */
  hit: boolean;
}

/** Load for the fault runs: workers each write a key and read it back, every few ms, recording every op. */
class FaultLoad {
  readonly records: OpRecord[] = [];
  #running = true;
  #workers: Promise<void>[] = [];

  constructor(
    readonly driver: Driver,
    readonly value: unknown,
  ) {}

  start(): void {
    this.#workers = Array.from({ length: STABILITY_WORKERS }, (_, w) => this.#worker(w));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }

  async #worker(w: number): Promise<void> {
    let j = 0;
    while (this.#running) {
      const key = stabilityKey(w, j++ % STABILITY_KEYS_PER_WORKER);
      await this.#timed(() => this.driver.set(key, this.value), false);
      await this.#timed(() => this.driver.get(key), true);
      await sleep(PAUSE_BETWEEN_OPS_MS);
    }
  }

  async #timed(call: () => Promise<unknown>, read: boolean): Promise<void> {
    const record: OpRecord = { start: performance.now(), end: 0, error: false, hung: false, hit: false };
    this.records.push(record);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      call().then(
        (value) => (read && value !== undefined ? 'hit' : 'ok'),
        () => 'error',
      ),
      new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), HANG_CAP_MS);
      }),
    ]);
    clearTimeout(timer);
    record.end = performance.now();
    record.error = outcome === 'error';
    record.hung = outcome === 'hung';
    record.hit = outcome === 'hit';
  }

  /** Waits for the first read issued at or after `since` that returned a value. */
  async firstHitAfter(since: number): Promise<number | undefined> {
    const limit = since + RECOVERY_CAP_MS;
    let scanned = 0;
    while (performance.now() < limit) {
      for (; scanned < this.records.length; scanned++) {
        const r = this.records[scanned]!;
        if (r.start < since) continue;
        if (r.end === 0) break; // not settled yet; look again from here
        if (r.hit) return r.end;
      }
      await sleep(5);
    }
    return undefined;
  }
}

async function injectFault(
  load: FaultLoad,
  fault: FaultResult['fault'],
  target: FaultTarget,
  faultMs: number,
  deadlineMs: number,
): Promise<FaultResult> {
  const from = performance.now();
  await (fault === 'kill' ? target.kill() : target.pause());
  await sleep(faultMs);
  await (fault === 'kill' ? target.restart() : target.resume());
  const back = performance.now();
  const hitAt = await load.firstHitAfter(back);
  const until = hitAt ?? performance.now();
  const window = load.records.filter((r) => r.start >= from && r.start <= until && r.end !== 0);
  const latencies = window.map((r) => r.end - r.start);
  return {
    fault,
    downMs: back - from,
    ops: window.length,
    errorsSurfaced: window.filter((r) => r.error).length,
    overDeadline: latencies.filter((ms) => ms > deadlineMs + SLACK_MS).length,
    hung: window.filter((r) => r.hung).length,
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies.length > 0 ? Math.max(...latencies) : 0,
    recoveryMs: hitAt === undefined ? RECOVERY_CAP_MS : hitAt - back,
    recovered: hitAt !== undefined,
  };
}

/** Kills and restarts the server, then freezes and thaws it, under load through one side. */
async function faultRuns(
  driver: Driver,
  data: Dataset,
  target: FaultTarget,
  faultMs: number,
  deadlineMs: number,
  phase: PhaseHandle,
  label: string,
): Promise<FaultResult[]> {
  const load = new FaultLoad(driver, data.values[0]);
  load.start();
  try {
    await sleep(300);
    phase.update(`${label}: kill, restart`);
    const killed = await injectFault(load, 'kill', target, faultMs, deadlineMs);
    await sleep(300);
    phase.update(`${label}: SIGSTOP, SIGCONT`);
    const paused = await injectFault(load, 'pause', target, faultMs, deadlineMs);
    return [killed, paused];
  } finally {
    await load.stop();
  }
}

/** The summary cell, computed from the figures: "0 errors at 5K in flight; recovers in 0.4 s". */
export function stabilitySummary(s: Pick<SideStability, 'burst' | 'faults'>): string {
  const parts = [`${s.burst.errors} errors at ${formatCount(s.burst.inFlight)} in flight`];
  if (s.faults.length > 0) {
    const surfaced = s.faults.reduce((n, f) => n + f.errorsSurfaced, 0);
    const hung = s.faults.reduce((n, f) => n + f.hung, 0);
    parts.push(`${surfaced} surfaced under kill/SIGSTOP${hung > 0 ? `, ${hung} hung` : ''}`);
    const recovery = s.faults
      .map((f) =>
        f.recovered
          ? `${formatSeconds(f.recoveryMs)} (${f.fault === 'kill' ? 'restart' : 'SIGCONT'})`
          : `none within ${formatSeconds(f.recoveryMs)} (${f.fault === 'kill' ? 'restart' : 'SIGCONT'})`,
      )
      .join(', ');
    parts.push(`recovers in ${recovery}`);
  }
  return parts.join('; ');
}

/**
 * Stability: (a) `inFlight` operations at once on both sides; (b) for servers the bench started,
 * kill + restart and SIGSTOP + SIGCONT under load with ignoreErrors on (the cache's defaults).
 */
export async function measureStability(
  backend: BenchBackend,
  data: Dataset,
  options: StabilityOptions,
  progress: Progress,
): Promise<StabilityResult> {
  const phase = progress.phase(`${backend.name}: stability`, `${formatCount(options.inFlight)} in flight`);
  try {
    const larderSide = larderDriver(backend.larder);
    const errorsBefore = backend.larder.stats().errors;
    const larderBurst = await burst(larderSide, data, options.inFlight);
    larderBurst.errors += backend.larder.stats().errors - errorsBefore;
    const rawBurst = await burst(backend.raw, data, options.inFlight);

    const result: Record<MemorySideName, Omit<SideStability, 'summary'>> = {
      larder: { burst: larderBurst, faults: [] },
      raw: { burst: rawBurst, faults: [] },
    };
    if (backend.faults === undefined) {
      const why = backend.faultsUnavailable ?? 'the bench did not start this server';
      result.larder.faultsSkipped = why;
      result.raw.faultsSkipped = why;
    } else {
      result.larder.faults = await faultRuns(
        larderSide,
        data,
        backend.faults,
        options.faultMs,
        backend.timeoutMs,
        phase,
        'Larder',
      );
      if (options.rawFaults) {
        result.raw.faults = await faultRuns(
          backend.raw,
          data,
          backend.faults,
          options.faultMs,
          backend.timeoutMs,
          phase,
          'raw',
        );
      } else {
        result.raw.faultsSkipped = 'quick run: raw clients are faulted in a full run only';
      }
    }
    const larder = { ...result.larder, summary: stabilitySummary(result.larder) };
    const raw = { ...result.raw, summary: stabilitySummary(result.raw) };
    phase.done(larder.summary);
    return { larder, raw };
  } catch (error) {
    phase.done('failed');
    throw error;
  }
}
