import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchBackend, larderLoader, loadBatches } from './backends/backend.js';
import { BACKEND_LOADERS } from './backends/index.js';
import { BackendUnavailableError } from './backends/load.js';
import { batchSize, createDataset, type Dataset } from './data.js';
import { describeEnvironment } from './env.js';
import { formatOps, formatRatio } from './format.js';
import { hostSpeedByMinute, hostSpeedNote } from './host-speed.js';
import { onInterrupt } from './lifecycle.js';
import type { Progress } from './progress.js';
import { type CaseRecord, CaseRun, sideOrder, summarizeCase } from './runner.js';
import { WORKLOADS } from './scenarios/index.js';
import { measureMemory } from './scenarios/memory.js';
import { measureStability } from './scenarios/stability.js';
import { FULL_SPEED, type Gauge, SpeedGauge } from './speed-gauge.js';
import { MEDIAN_ERROR_TARGET } from './stats.js';
import {
  type BackendName,
  type BackendResult,
  type BenchOptions,
  type BenchResults,
  backendTiming,
  type CaseFailure,
  type CaseResult,
  processShare,
  type RoundResult,
  type SideResult,
  type SkippedBackend,
  type Timing,
  type WorkloadId,
} from './types.js';
import { WorkloadProcess } from './workload-process.js';
import { Yardstick } from './yardstick.js';

/** Thrown before any long phase when a server the user asked for cannot be used. */
export class FatalSetupError extends Error {
  override readonly name = 'FatalSetupError';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts every wanted backend at once (servers come up in parallel). Unavailable ones become
 * skips with a reason and a fix; an unanswering environment URL or an explicitly requested
 * backend that cannot run aborts the run here, before anything long starts.
 */
async function startBackends(
  options: BenchOptions,
  tempDir: string,
  progress: Progress,
): Promise<{ ready: BenchBackend[]; skipped: SkippedBackend[] }> {
  const phase = progress.phase('starting backends', options.backends.join(', '));
  const settled = await Promise.allSettled(
    options.backends.map(async (name) => {
      const backend = await BACKEND_LOADERS[name]({ options, tempDir });
      onInterrupt(() => backend.teardown());
      return backend;
    }),
  );
  const ready: BenchBackend[] = [];
  const skipped: SkippedBackend[] = [];
  const fatal: string[] = [];
  settled.forEach((outcome, i) => {
    const name = options.backends[i] as BackendName;
    if (outcome.status === 'fulfilled') {
      ready.push(outcome.value);
      return;
    }
    const error = outcome.reason;
    if (error instanceof BackendUnavailableError) {
      if (error.fatal || options.backendsExplicit)
        fatal.push(`${name}: ${error.reason}\n  Fix: ${error.fix}`);
      else skipped.push({ name, reason: error.reason, fix: error.fix });
    } else {
      const text = `${name} failed to start: ${message(error)}`;
      if (options.backendsExplicit) fatal.push(text);
      else
        skipped.push({ name, reason: text, fix: 'see the message above; run with --backends to isolate it' });
    }
  });
  if (fatal.length > 0) {
    phase.done();
    await Promise.allSettled(ready.map((b) => b.teardown()));
    throw new FatalSetupError(fatal.join('\n'));
  }
  phase.done(ready.map((b) => `${b.name} (${b.server.version})`).join(', '));
  return { ready, skipped };
}

/** Loads the working set through both sides (not timed) and checks it reads back. */
export async function seed(backend: BenchBackend, data: Dataset, progress: Progress): Promise<void> {
  const phase = progress.phase(
    `${backend.name}: loading`,
    `${data.keys.length.toLocaleString('en-US')} keys per side`,
  );
  const batch = batchSize(data.valueSize);
  const valueAt = (i: number) => data.values[i % data.values.length];
  await loadBatches(data.keys, valueAt, batch, larderLoader(backend.loader), (n) =>
    phase.update(`Larder ${n.toLocaleString('en-US')}`),
  );
  await loadBatches(
    data.keys,
    valueAt,
    batch,
    (entries) => backend.raw.load(entries),
    (n) => phase.update(`raw ${n.toLocaleString('en-US')}`),
  );
  const probe = data.keys[data.keys.length - 1]!;
  if ((await backend.larder.get(probe)) === undefined || (await backend.raw.get(probe)) === undefined) {
    phase.done('failed');
    throw new Error(`the loaded keys do not read back from ${backend.name} (probe ${probe})`);
  }
  phase.done('done');
}

function emptyResult(backend: BenchBackend): BackendResult {
  return {
    name: backend.name,
    rawClient: backend.rawClient,
    server: backend.server,
    cases: [],
    failures: [],
    seconds: 0,
  };
}

/** A workload at a concurrency: which case a top-up process measures. */
export interface CaseKey {
  workload: WorkloadId;
  concurrency: number;
}

/**
 * The cases of a backend that get another process's share of rounds (`share`): those whose
 * pooled median is still uncertain by more than `MEDIAN_ERROR_TARGET` on either side, or that
 * have fewer than `rounds` rounds timed at full speed, as long as the extra share keeps them
 * within `maxRounds`.
 */
export function casesToTopUp(
  cases: readonly CaseResult[],
  options: Pick<Timing, 'rounds' | 'maxRounds'>,
  share: number,
): CaseKey[] {
  const fullSpeed = (side: SideResult) => side.rounds.filter((r) => r.machineSpeed >= FULL_SPEED).length;
  return cases
    .filter(
      (c) =>
        c.larder.rounds.length + share <= options.maxRounds &&
        (Math.max(c.larder.medianError, c.raw.medianError) > MEDIAN_ERROR_TARGET ||
          Math.min(fullSpeed(c.larder), fullSpeed(c.raw)) < options.rounds),
    )
    .map(({ workload, concurrency }) => ({ workload, concurrency }));
}

/** What one process measured of a backend's cases. */
export interface WorkloadRecords {
  records: CaseRecord[];
  failures: CaseFailure[];
}

/**
 * A backend's workload cases in one process, measured in passes: a warm-up pass that visits
 * each case once without timing it (so the JIT has seen every workload before any round
 * counts), then `rounds` passes (this process's share, `processShare`), each visiting every
 * case for one round per side. A case's rounds are thus many seconds apart, and a drift of
 * the machine (another tenant, CPU frequency) lands on all cases alike instead of on one
 * case's rounds together. `only`, when given, limits the cases to those (a top-up process,
 * `casesToTopUp`). Each pass may wait up to `speedWaitMs` in all for the speed gauge to read
 * full speed before timing a case (`CaseRun.visit`). The server is settled before every
 * pass. `where` names the process in progress lines. The bench runs one pass at a time
 * (`next`), so that the passes of several backends can take turns.
 */
export class WorkloadPasses {
  #runs: CaseRun[] = [];
  readonly #failures: CaseFailure[] = [];
  /** The next pass; 0 is the warm-up pass, which runs only with a warm-up. */
  #round: number;
  readonly #backend: BenchBackend;
  readonly #options: BenchOptions;
  readonly #progress: Progress;
  readonly #where: string;

  constructor(
    backend: BenchBackend,
    data: Dataset,
    options: BenchOptions,
    gauge: Gauge | undefined,
    progress: Progress,
    where = '',
    only?: readonly CaseKey[],
  ) {
    this.#backend = backend;
    this.#options = options;
    this.#progress = progress;
    this.#where = where;
    this.#round = options.warmupMs > 0 ? 0 : 1;
    for (const id of options.workloads) {
      for (const concurrency of options.concurrency) {
        if (only !== undefined && !only.some((c) => c.workload === id && c.concurrency === concurrency))
          continue;
        this.#runs.push(new CaseRun(backend, WORKLOADS[id], concurrency, data, gauge));
      }
    }
  }

  /** Whether the next pass is the untimed warm-up pass. */
  get warmUpNext(): boolean {
    return this.#round === 0;
  }

  /** Runs the next pass; resolves false, running nothing, when no pass is left. */
  async next(): Promise<boolean> {
    const round = this.#round;
    const options = this.#options;
    if (round > options.rounds || this.#runs.length === 0) return false;
    const visiting = this.#runs;
    this.#round++;
    const warmUpOnly = round === 0;
    const phase = this.#progress.phase(
      `${this.#backend.name}${this.#where}: ${warmUpOnly ? 'warm-up pass' : `round ${round} of ${options.rounds}`}`,
      `${visiting.length} cases`,
    );
    if (this.#backend.settle !== undefined) {
      phase.update('settling the server');
      await this.#backend.settle();
    }
    const failedNow: CaseRun[] = [];
    let waitLeftMs = options.speedWaitMs;
    for (const run of visiting) {
      try {
        waitLeftMs -= await run.visit(options, sideOrder(round), phase, !warmUpOnly, Math.max(0, waitLeftMs));
      } catch (error) {
        const { workload, concurrency } = run;
        this.#failures.push({ workload: workload.id, concurrency, error: message(error) });
        this.#progress.note(
          `${this.#backend.name} ${workload.id} c=${concurrency} failed: ${message(error)}`,
        );
        failedNow.push(run);
      }
    }
    this.#runs = this.#runs.filter((run) => !failedNow.includes(run));
    phase.done(`${visiting.length - failedNow.length} cases`);
    return true;
  }

  /** What the passes so far measured. */
  records(): WorkloadRecords {
    return { records: this.#runs.map((run) => run.record()), failures: [...this.#failures] };
  }
}

/**
 * What every process measured of a backend's cases, pooled case by case: a case that failed
 * in any process is reported as failed, not from the rounds of the others.
 */
function pooledCases(
  measured: readonly WorkloadRecords[],
  options: BenchOptions,
  gauge: Gauge | undefined,
): { cases: CaseResult[]; failures: CaseFailure[] } {
  const failures = measured.flatMap((m) => m.failures);
  const failed = (id: WorkloadId, c: number) =>
    failures.some((f) => f.workload === id && f.concurrency === c);
  const records = measured.flatMap((m) => m.records);
  const cases: CaseResult[] = [];
  for (const id of options.workloads) {
    for (const concurrency of options.concurrency) {
      if (failed(id, concurrency)) continue;
      const mine = records.filter((r) => r.workload === id && r.concurrency === concurrency);
      if (mine.length > 0) cases.push(summarizeCase(mine, WORKLOADS[id], gauge));
    }
  }
  return { cases, failures };
}

/** Pools what every process measured of a backend's cases into its results. */
function poolCases(
  result: BackendResult,
  measured: readonly WorkloadRecords[],
  options: BenchOptions,
  gauge: Gauge | undefined,
  progress: Progress,
): void {
  const { cases, failures } = pooledCases(measured, options, gauge);
  result.failures.push(...failures);
  result.cases.push(...cases);
  if (progress.mode !== 'quiet') {
    for (const c of cases) {
      progress.note(
        `${result.name} ${c.workload} c=${c.concurrency}: Larder ${formatOps(c.larder.opsPerSec.median)} ops/s, raw ${formatOps(c.raw.opsPerSec.median)} (${formatRatio(c.ratio)})${c.busy ? ' [busy machine]' : ''}`,
      );
    }
  }
}

/** One backend's memory and stability phases, after its workloads. */
async function measureServer(
  backend: BenchBackend,
  result: BackendResult,
  data: Dataset,
  options: BenchOptions,
  progress: Progress,
): Promise<void> {
  if (!options.skip.includes('memory')) {
    try {
      result.memory = await measureMemory(
        backend,
        options.memoryKeys,
        options.valueSize,
        options.seed,
        progress,
      );
    } catch (error) {
      result.memoryError = message(error);
    }
  }
  if (!options.skip.includes('stability')) {
    try {
      result.stability = await measureStability(
        backend,
        data,
        { inFlight: options.inFlight, faultMs: options.faultMs, rawFaults: !options.quick },
        progress,
      );
    } catch (error) {
      result.stabilityError = message(error);
    }
  }
}

/** A backend being measured, with what has been measured of it so far. */
interface BackendRun {
  backend: BenchBackend;
  result: BackendResult;
  measured: WorkloadRecords[];
}

/** Runs `step` and adds the time it took to the backend's seconds. */
async function timed(run: BackendRun, step: () => Promise<void>): Promise<void> {
  const started = performance.now();
  try {
    await step();
  } finally {
    run.result.seconds += (performance.now() - started) / 1000;
  }
}

/** The records of a backend's `process`-th workload process, each round marked with it. */
function fromProcess(measured: WorkloadRecords, process: number): WorkloadRecords {
  const mark = (rounds: RoundResult[]) => rounds.map((round) => ({ ...round, process }));
  return {
    records: measured.records.map((r) => ({ ...r, larder: mark(r.larder), raw: mark(r.raw) })),
    failures: measured.failures,
  };
}

/** A backend's turn in the workload rotation: the process measuring it now, and how many it has had. */
interface WorkloadTurn {
  run: BackendRun;
  /** Its rounds, processes and top-up room (`backendTiming`). */
  timing: Timing;
  /** Turns it gets for each turn of a server (`embeddedWeight` for an embedded backend, else 1). */
  weight: number;
  /** Turns taken so far. */
  taken: number;
  /** Processes started for this backend so far. */
  started: number;
  current: WorkloadProcess | undefined;
  finished: boolean;
}

/**
 * Which backend takes the next turn: of those not finished, the one with the fewest turns
 * for its weight, the first in run order on a tie. With weights 2, 2, 1, 1, 1 the rotation
 * runs A B C D E A B, A B C D E A B, …: the heavier backends' extra turns spread through the
 * run instead of gathering at its end. Undefined once every backend is finished.
 */
export function nextTurn(
  turns: readonly Pick<WorkloadTurn, 'taken' | 'weight' | 'finished'>[],
): number | undefined {
  let next: number | undefined;
  turns.forEach((turn, index) => {
    if (turn.finished) return;
    const best = next === undefined ? undefined : turns[next];
    if (best === undefined || turn.taken / turn.weight < best.taken / best.weight) next = index;
  });
  return next;
}

/**
 * The workloads of every backend, measured in turns: each turn runs one pass over one
 * backend's cases (one round per case and side), and the backends take turns until each has
 * its rounds. A backend's rounds are thus spread over the whole workload phase, a turn of every
 * other backend apart, instead of gathered in a minute or two: the host's speed on the VMs
 * measured moves by 20–40 % over seconds to minutes, and a median drawn from one stretch of it
 * moved with it from run to run. Each backend's share of the rounds is measured in fresh
 * processes one after another (`WorkloadProcess`, `backendTiming`), which wait idle,
 * connected, between their turns. The embedded backends get `embeddedWeight` turns for each
 * turn of a server (`nextTurn`). A backend runs alone (the other backends' processes and
 * servers idle), as an app would run one: cases of different backends interleaved in one
 * process were measured to slow Larder's network reads by a third.
 */
async function measureAllWorkloads(
  runs: readonly BackendRun[],
  options: BenchOptions,
  tempDir: string,
  gauge: SpeedGauge | undefined,
  yardstick: Yardstick | undefined,
  progress: Progress,
): Promise<void> {
  const turns: WorkloadTurn[] = runs.map((run) => {
    const embedded = run.backend.server.source === 'embedded';
    return {
      run,
      timing: backendTiming(options, embedded),
      weight: embedded ? options.embeddedWeight : 1,
      taken: 0,
      started: 0,
      current: undefined,
      finished: run.result.error !== undefined,
    };
  });
  const takeTurn = async (turn: WorkloadTurn): Promise<void> => {
    const { timing } = turn;
    const shareRounds = processShare(timing.rounds, timing.processes);
    for (;;) {
      if (turn.current === undefined) {
        let only: CaseKey[] | undefined;
        let where = timing.processes > 1 ? ` (process ${turn.started + 1} of ${timing.processes})` : '';
        if (turn.started >= timing.processes) {
          const { cases } = pooledCases(turn.run.measured, options, gauge);
          only = casesToTopUp(cases, timing, shareRounds);
          if (only.length === 0) {
            turn.finished = true;
            return;
          }
          where = ` (top-up process ${turn.started + 1 - timing.processes}, ${only.length} uncertain ${only.length === 1 ? 'case' : 'cases'})`;
        }
        turn.started++;
        const share = { ...options, rounds: shareRounds };
        const start = { options: share, tempDir, where, progress: progress.mode, only };
        turn.current = await WorkloadProcess.start(turn.run.backend, start, gauge);
      }
      if (await turn.current.pass()) return;
      turn.run.measured.push(fromProcess(turn.current.records, turn.started));
      turn.current = undefined;
    }
  };
  try {
    await yardstick?.stop();
    for (let index = nextTurn(turns); index !== undefined; index = nextTurn(turns)) {
      const turn = turns[index] as WorkloadTurn;
      turn.taken++;
      await timed(turn.run, async () => {
        try {
          await takeTurn(turn);
        } catch (error) {
          turn.run.result.error = `measuring the workloads failed: ${message(error)}`;
          turn.current?.kill();
          turn.finished = true;
        }
      });
      await yardstick?.stop();
    }
  } finally {
    for (const turn of turns) turn.current?.kill();
  }
  for (const run of runs) poolCases(run.result, run.measured, options, gauge, progress);
}

async function tearDown(backend: BenchBackend, progress: Progress): Promise<void> {
  const phase = progress.phase(`${backend.name}: cleaning up`);
  await backend.teardown();
  phase.done();
}

/** Runs the whole bench: start backends, then for each one the workloads, memory and stability. */
export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchResults> {
  const date = new Date();
  const started = performance.now();
  const tempDir = mkdtempSync(join(tmpdir(), 'larder-bench-'));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  const unregister = onInterrupt(removeTemp);
  const notes: string[] = [];
  // The gauge runs only when asked for (--speed-wait): on the VMs measured, leaving out the
  // rounds it saw as slowed made two runs agree less, not more, and its waits cost 9–12 minutes
  // of a 30-minute run (docs/benchmarks.md, Run-to-run agreement).
  let gauge: SpeedGauge | undefined;
  let yardstick: Yardstick | undefined;
  try {
    const { ready, skipped } = await startBackends(options, tempDir, progress);
    for (const s of skipped) progress.note(`Skipping ${s.name}: ${s.reason}\n  To enable it: ${s.fix}`);
    if (options.speedWaitMs > 0) {
      gauge = await SpeedGauge.start();
      await gauge.calibrate();
    }
    const data = createDataset(options.keys, options.valueSize, options.seed);
    const runs: BackendRun[] = ready.map((backend) => ({
      backend,
      result: emptyResult(backend),
      measured: [],
    }));
    // Each server goes once its memory and stability are measured, so the next backend runs on
    // a quieter machine; on a failure, the ones not yet torn down go in the finally.
    let measured = 0;
    try {
      for (const run of runs) {
        await timed(run, async () => {
          try {
            await seed(run.backend, data, progress);
          } catch (error) {
            run.result.error = `loading the working set failed: ${message(error)}`;
          }
        });
      }
      if (!options.skip.includes('workloads')) {
        yardstick = await Yardstick.start().catch((error: unknown) => {
          notes.push(
            `The yardstick could not start (${message(error)}); --compare cannot check the machine's speed against it.`,
          );
          return undefined;
        });
        await measureAllWorkloads(runs, options, tempDir, gauge, yardstick, progress);
      }
      for (const run of runs) {
        if (run.result.error === undefined) {
          await timed(run, () => measureServer(run.backend, run.result, data, options, progress));
        } else progress.note(`${run.backend.name}: ${run.result.error}`);
        await tearDown(run.backend, progress);
        measured++;
      }
    } finally {
      for (const run of runs.slice(measured)) await tearDown(run.backend, progress);
    }
    const backends = runs.map((run) => run.result);
    if (options.memoryKeys < 1_000_000 && !options.skip.includes('memory')) {
      notes.push(
        `Memory was measured with ${options.memoryKeys.toLocaleString('en-US')} keys and extrapolated to 1M.`,
      );
    }
    const hostSpeed = hostSpeedByMinute(backends);
    const yardstickResult = yardstick?.result();
    const hostNote = hostSpeedNote(hostSpeed);
    if (hostNote !== undefined) notes.push(hostNote);
    if (backends.some((b) => b.cases.some((c) => c.busy))) {
      notes.push(
        'Cases marked "busy machine" ran while other processes used CPU; rerun them on a quiet machine.',
      );
    }
    const slowRounds = backends.reduce(
      (n, b) => n + b.cases.reduce((m, c) => m + c.larder.slowRounds + c.raw.slowRounds, 0),
      0,
    );
    if (slowRounds > 0 && gauge !== undefined) {
      notes.push(
        `${slowRounds} rounds ran while the speed gauge read below ${FULL_SPEED * 100} % of its best on some CPU (the host slowed this VM) and were left out of the medians; the bench waited ${(gauge.waitedMs / 1000).toFixed(0)} s in all for full speed.`,
      );
    }
    return {
      schema: 1,
      environment: describeEnvironment(date),
      options,
      backends,
      skipped,
      seconds: (performance.now() - started) / 1000,
      hostSpeed,
      ...(yardstickResult === undefined ? {} : { yardstick: yardstickResult }),
      ...(gauge === undefined
        ? {}
        : {
            speedGauge: {
              cpus: gauge.cpus.map(String),
              best: [...gauge.best],
              waitedSeconds: gauge.waitedMs / 1000,
            },
          }),
      notes,
    };
  } finally {
    gauge?.close();
    yardstick?.close();
    removeTemp();
    unregister();
  }
}
