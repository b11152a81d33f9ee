import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Driver } from './backends/backend.js';
import type { Dataset } from './data.js';
import type { PhaseHandle } from './progress.js';
import { Latencies, median, pairedRatio } from './stats.js';
import type { BenchOptions, CaseResult, Round, Side, SideRound } from './types.js';
import type { Op, Workload } from './workloads/workload.js';

/** One side of a case: who does the work, and how to read the errors it swallowed. */
export interface Contender {
  side: Side;
  label: string;
  driver: Driver;
  /** Errors swallowed so far (Larder's own counter: with ignoreErrors a failure becomes a miss). */
  swallowed?: () => number;
  /** Runs before each of its timed windows, untimed (a Prometheus scrape). */
  prepare?(): Promise<unknown>;
  /** Read after the case, kept beside the side's figures (the L1 hit ratio); starts the next count. */
  note?(): string;
}

/** One buffer of latencies for every round: sides are timed one at a time. */
const latencies = new Latencies();

/**
 * Times one side for `durationMs`: `ops.length` async workers each loop `await op()` until
 * the time is up. ops/s = successful operations ÷ wall time until the last one finished;
 * CPU per op = this process's user + system CPU over the round ÷ those operations.
 */
export async function timeSide(ops: readonly Op[], durationMs: number) {
  latencies.reset();
  let completed = 0;
  let errors = 0;
  let failed = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (op: Op) => {
    let n = 0;
    for (;;) {
      const t0 = performance.now();
      if (t0 >= deadline) return;
      try {
        if (await op()) completed++;
        else failed++;
      } catch {
        errors++;
        failed++;
      }
      latencies.record(performance.now() - t0);
      // In-process backends resolve at once; yield now and then so timers (the spinner) run.
      if ((++n & 255) === 0) await yieldToLoop();
    }
  };
  await Promise.all(ops.map(worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    /** Operations that did what the workload expects (errors and misses excluded). */
    ops: completed,
    elapsedMs,
    opsPerSec: (completed / elapsedMs) * 1000,
    /** Client CPU (user + system) over the round ÷ ops, µs. */
    cpuUsPerOp: completed > 0 ? (cpu.user + cpu.system) / completed : 0,
    p50Ms: latencies.quantile(0.5),
    p99Ms: latencies.quantile(0.99),
    errors,
    failed,
  };
}

/**
 * Round r's order, from a Williams design: over a full cycle (n rounds for n sides, 2n when n is
 * odd) every side goes first as often as the others, and follows each other side equally often.
 * Plain rotation kept the cyclic order, so with three sides one always ran right after the same
 * other one and was billed that side's garbage collection (A B, B A for two sides either way).
 */
export function roundOrder<T>(sides: readonly T[], round: number): T[] {
  const n = sides.length;
  const cycle = n % 2 === 0 ? n : 2 * n;
  const row = round % cycle;
  // 0, 1, n-1, 2, n-2, …: each difference between neighbours mod n occurs once.
  const first = Array.from({ length: n }, (_, j) => (j % 2 === 1 ? (j + 1) / 2 : (n - j / 2) % n));
  const order = first.map((j) => sides[(j + row) % n]!);
  return row < n ? order : order.reverse();
}

/** Who each side is, in the tables. */
type Labels = Partial<Record<Side, string>>;

/** A case's figures from its rounds: each side's medians and every side's paired ratios to raw. */
export function summarizeCase(workload: Workload, concurrency: number, labels: Labels, rounds: Round[]) {
  const sides: CaseResult['sides'] = {};
  const ratios: CaseResult['ratios'] = {};
  const withRaw = rounds.some((r) => r.sides.raw);
  for (const side of Object.keys(labels) as Side[]) {
    const mine = rounds.flatMap((r) => r.sides[side] ?? []);
    if (mine.length === 0) continue;
    const of = (pick: (r: SideRound) => number) => median(mine.map(pick));
    const total = (pick: (r: SideRound) => number) => mine.reduce((n, r) => n + pick(r), 0);
    sides[side] = {
      label: labels[side]!,
      opsPerSec: of((r) => r.opsPerSec),
      cpuUsPerOp: of((r) => r.cpuUsPerOp),
      p50Ms: of((r) => r.p50Ms),
      p99Ms: of((r) => r.p99Ms),
      errors: total((r) => r.errors),
      failed: total((r) => r.failed),
    };
    if (side === 'raw' || !withRaw) continue;
    const ratio = (pick: (r: SideRound) => number, base: Side = 'raw') => {
      const paired = rounds.filter((r) => r.sides[side] !== undefined && r.sides[base] !== undefined);
      return pairedRatio(
        paired.map((r) => pick(r.sides[side]!)),
        paired.map((r) => pick(r.sides[base]!)),
      );
    };
    ratios[side] = { ops: ratio((r) => r.opsPerSec), cpu: ratio((r) => r.cpuUsPerOp) };
    if (side.startsWith('larder-')) ratios[side].vsLarder = ratio((r) => r.opsPerSec, 'larder');
  }
  const keysPerOp = workload.keysPerOp ?? 1;
  return { workload: workload.id, concurrency, keysPerOp, sides, ratios, rounds } satisfies CaseResult;
}

/**
 * One workload at one concurrency: every side warmed up once, untimed, then `rounds` rounds
 * in which every side is timed once, back to back, the order changing from round to round (`roundOrder`).
 */
export async function measureCase(
  contenders: readonly Contender[],
  workload: Workload,
  concurrency: number,
  data: Dataset,
  options: Pick<BenchOptions, 'rounds' | 'durationMs' | 'warmupMs'>,
  phase: PhaseHandle,
): Promise<CaseResult> {
  const ops = new Map(
    contenders.map((c) => [c, Array.from({ length: concurrency }, (_, w) => workload.op(c.driver, data, w))]),
  );
  if (options.warmupMs > 0) for (const c of contenders) await timeSide(ops.get(c)!, options.warmupMs);
  const rounds: Round[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const order = roundOrder(contenders, r);
    const round: Round = { startedAt: Date.now(), order: order.map((c) => c.side), sides: {} };
    for (const c of order) {
      phase.update(`round ${r + 1} of ${options.rounds}, ${c.side}`);
      await c.prepare?.();
      const swallowed = c.swallowed?.() ?? 0;
      const result = await timeSide(ops.get(c)!, options.durationMs);
      result.errors += (c.swallowed?.() ?? 0) - swallowed;
      round.sides[c.side] = result;
    }
    rounds.push(round);
  }
  const labels = Object.fromEntries(contenders.map((c) => [c.side, c.label]));
  const result = summarizeCase(workload, concurrency, labels, rounds);
  for (const c of contenders) if (c.note && result.sides[c.side]) result.sides[c.side]!.note = c.note();
  return result;
}
