/** The backends the bench knows, in the order they are run and printed. */
export const BACKEND_NAMES = ['memory', 'sqlite', 'redis', 'memcached', 'postgres'] as const;
/** A backend the bench knows. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The timed workloads, in the order they are run and printed. */
export const WORKLOAD_IDS = ['get-hit', 'get-miss', 'set', 'get-many', 'mixed', 'incr'] as const;
/** A timed workload. */
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

/** Phases that `--skip` can leave out. */
export const PHASES = ['workloads', 'memory', 'stability'] as const;
/** A phase of a run. */
export type Phase = (typeof PHASES)[number];

/** Which side of a comparison: through Larder, or the raw client doing the same by hand. */
export type Side = 'larder' | 'raw';

/** Everything a run was asked to do, after validation. */
export interface BenchOptions {
  backends: BackendName[];
  /** Whether `backends` was given explicitly (then an unavailable server is an error, not a skip). */
  backendsExplicit: boolean;
  workloads: WorkloadId[];
  skip: Phase[];
  quick: boolean;
  /** Serialized size of each value, in bytes. */
  valueSize: number;
  concurrency: number[];
  /** Length of one timed round, in ms. */
  durationMs: number;
  /** Warm-up per side before the rounds of a case, in ms. */
  warmupMs: number;
  /** Rounds every case gets. */
  rounds: number;
  /**
   * Rounds a case may get in all: past `rounds`, a case whose pooled median is not yet known
   * to within `MEDIAN_ERROR_TARGET` (stats.ts) gets another process's share of rounds (a
   * top-up process, `casesToTopUp` in bench.ts) while that keeps it within this many.
   */
  maxRounds: number;
  /**
   * Time per pass the bench may wait, before timing a case, for the speed gauge
   * (speed-gauge.ts) to read full speed again, ms; 0 never waits.
   */
  speedWaitMs: number;
  /**
   * Fresh processes each backend's workload cases are measured in, one after another across
   * the backends; every process gets `rounds` ÷ this (rounded up) of each case's rounds, and
   * the medians pool them all (with those of any top-up process).
   */
  processes: number;
  /**
   * How many times the processes, rounds and turns of a network backend the embedded
   * backends (memory, SQLite: no server) get (`backendTiming`). Their rounds are pure CPU in
   * the measuring process, so the host's swings land on them in full: every run-to-run miss
   * measured in session 9 was one of theirs. Results written before it existed have none (1).
   */
  embeddedWeight: number;
  /** Keys loaded before the workloads (the set get-hit reads from). */
  keys: number;
  /** Keys loaded for the memory figure. */
  memoryKeys: number;
  /** In-flight operations for the stability burst. */
  inFlight: number;
  /** Outage / hang length in the fault runs, ms. */
  faultMs: number;
  outDir: string | undefined;
  check: boolean;
  /** Seed of the data generator. */
  seed: number;
}

/**
 * The rounds each of `processes` workload processes gives a case: the run's `rounds` shared
 * out, rounded up so that every process gets the same share (a pooled median then weighs
 * every process alike). A top-up process gets the same share.
 */
export function processShare(rounds: number, processes: number): number {
  return Math.ceil(rounds / processes);
}

/** The rounds, processes and top-up room one backend's workloads get. */
export type Timing = Pick<BenchOptions, 'rounds' | 'maxRounds' | 'processes'>;

/**
 * What a backend's workloads get: the run's options for a server, or for an embedded backend
 * `embeddedWeight` times the processes and rounds, with as many top-ups as a server gets.
 * Every process keeps the same share of rounds.
 */
export function backendTiming(options: BenchOptions, embedded: boolean): Timing {
  const weight = embedded ? (options.embeddedWeight ?? 1) : 1;
  return {
    rounds: options.rounds * weight,
    processes: options.processes * weight,
    maxRounds: options.maxRounds + options.rounds * (weight - 1),
  };
}

/** A median over rounds, with the spread it came from. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The machine's speed in one minute of a run, read from the rounds timed in it. */
export interface MinuteSpeed {
  /** Minutes since the run's first timed round. */
  minute: number;
  /** The median, over the rounds that started in this minute, of each round's ops/s over its side's median. */
  speed: number;
  rounds: number;
}

/** One timed round of one side. */
export interface RoundResult {
  /**
   * When the round started, ms since the Unix epoch (absent from results written by earlier
   * versions of the bench): shows how a case's rounds are spread over the run.
   */
  startedAt?: number;
  /**
   * Which of the backend's workload processes timed it, from 1 (absent from results written by
   * earlier versions of the bench).
   */
  process?: number;
  /** Successful operations. */
  ops: number;
  elapsedMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Operations that threw, or (Larder) store errors the cache counted and swallowed. */
  errors: number;
  /** Operations that did not do what the workload expects (not counted in ops/s). */
  failed: number;
  /**
   * The lowest speed-gauge reading around the visit, relative to the best of the run, on the
   * slowest CPU (1 = full speed). Below `FULL_SPEED` the round is kept here but left out of
   * the medians.
   */
  machineSpeed: number;
  /** Whether the round counts toward the medians. */
  counted: boolean;
}

/** One side of one case, over all its rounds. */
export interface SideResult {
  opsPerSec: Spread;
  /** Keys read or written per second (ops/s × keys per op). */
  keysPerSec: number;
  /** Standard error of the ops/s median, relative to it (`medianError` in stats.ts). */
  medianError: number;
  /**
   * Rounds left out of the medians because the machine was slowed while they ran (all of
   * `rounds` count when fewer than 3 were timed at full speed).
   */
  slowRounds: number;
  /** Median over rounds of each round's p50. */
  p50Ms: number;
  /** Median over rounds of each round's p99. */
  p99Ms: number;
  /** Operations that threw, or (Larder) store errors the cache counted and swallowed. */
  errors: number;
  /** Operations that did not do what the workload expects: a miss in get-hit, a hit in get-miss, an unstored set (not counted in ops/s). */
  failed: number;
  rounds: RoundResult[];
}

/** One workload at one concurrency: Larder beside raw. */
export interface CaseResult {
  workload: WorkloadId;
  concurrency: number;
  keysPerOp: number;
  larder: SideResult;
  raw: SideResult;
  /** Larder median ops/s ÷ raw median ops/s: the headline. */
  ratio: number;
  /** Average CPU used by processes other than this one and its servers during the case, in cores. */
  otherCpuCores: number;
  /** Whether `otherCpuCores` was high enough to distrust the figures. */
  busy: boolean;
}

/** A case that could not be measured. */
export interface CaseFailure {
  workload: WorkloadId;
  concurrency: number;
  error: string;
}

/** Bytes one side needed for the memory load, and per million keys. */
export interface MemorySide {
  bytes: number;
  bytesPerKey: number;
  bytesPer1M: number;
}

/** The memory figure of one backend. */
export interface MemoryResult {
  keys: number;
  /** The figure per 1M keys is extrapolated from fewer keys. */
  extrapolated: boolean;
  /** What was measured, e.g. "Redis INFO used_memory delta". */
  method: string;
  rawMethod: string;
  larder: MemorySide;
  raw: MemorySide;
  /** Larder bytes ÷ raw bytes. */
  ratio: number;
  seconds: number;
}

/** Many operations issued at once. */
export interface BurstResult {
  inFlight: number;
  errors: number;
  p99Ms: number;
  maxMs: number;
  seconds: number;
}

/** One fault injected under load. */
export interface FaultResult {
  fault: 'kill' | 'pause';
  /** How long the server was down or frozen, ms. */
  downMs: number;
  /** Operations issued while the fault lasted and until recovery. */
  ops: number;
  /** Errors that reached the caller (with ignoreErrors on, Larder should surface none). */
  errorsSurfaced: number;
  /** Operations that took longer than the deadline plus 50 ms of slack. */
  overDeadline: number;
  /** Operations that had not settled after the observation cap (raw clients may hang). */
  hung: number;
  p99Ms: number;
  maxMs: number;
  /** From restart / resume to the first successful read of a value written after it (or a surviving one), ms. */
  recoveryMs: number;
  recovered: boolean;
}

/** Stability of one side of one backend. */
export interface SideStability {
  burst: BurstResult;
  faults: FaultResult[];
  /** Why fault runs were not done (server not started by the bench, embedded backend, quick mode). */
  faultsSkipped?: string;
  /** The summary cell, computed from the numbers above. */
  summary: string;
}

/** Stability of one backend. */
export interface StabilityResult {
  larder: SideStability;
  raw: SideStability;
}

/** A server the bench used. */
export interface ServerInfo {
  version: string;
  source: 'env' | 'local' | 'container' | 'embedded';
  /** The address, with any password hidden. */
  address: string;
}

/** All results of one backend. */
export interface BackendResult {
  name: BackendName;
  /** What the raw row measures, e.g. "ioredis GET/SET". */
  rawClient: string;
  server: ServerInfo;
  cases: CaseResult[];
  failures: CaseFailure[];
  memory?: MemoryResult;
  memoryError?: string;
  stability?: StabilityResult;
  stabilityError?: string;
  /** Set when the backend could not be measured at all (e.g. loading failed). */
  error?: string;
  seconds: number;
}

/** A backend that was not run, and how to enable it. */
export interface SkippedBackend {
  name: BackendName;
  reason: string;
  fix: string;
}

/** Where and with what the results were measured. */
export interface Environment {
  date: string;
  node: string;
  v8: string;
  platform: string;
  os: string;
  cpuModel: string;
  cpuCores: number;
  totalMemoryBytes: number;
  loadAverage: number[];
  packages: Record<string, string>;
}

/** The whole results file. */
export interface BenchResults {
  schema: 1;
  environment: Environment;
  options: BenchOptions;
  backends: BackendResult[];
  skipped: SkippedBackend[];
  /** Wall time of the run, s. */
  seconds: number;
  /**
   * The speed gauge: the CPUs it watched ('any' for one unpinned probe), the best reading of
   * each (operations per ms) and the time spent waiting for full speed, s.
   */
  speedGauge?: { cpus: string[]; best: number[]; waitedSeconds: number };
  /**
   * The machine's speed minute by minute, read from the rounds (`hostSpeedByMinute`); absent
   * from results written by earlier versions of the bench.
   */
  hostSpeed?: MinuteSpeed[];
  /** The yardstick timed between workload turns (`Yardstick`); absent from earlier versions' results. */
  yardstick?: YardstickResult;
  notes: string[];
}

/**
 * How fast the machine ran a fixed lookup job between the workload turns: the median over the
 * stops, lookups per ms, and each stop's time (epoch ms) and median of its readings.
 */
export interface YardstickResult {
  lookupsPerMs: number;
  stops: { at: number; speed: number }[];
}
