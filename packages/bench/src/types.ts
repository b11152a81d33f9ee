/** The backends the bench knows, in the order they are run and printed. */
export const BACKEND_NAMES = ['memory', 'sqlite', 'redis', 'memcached', 'postgres'] as const;
/** A backend the bench knows. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The timed workloads, in the order they are run and printed (`set-full` runs on memory only). */
export const WORKLOAD_IDS = ['get-hit', 'get-miss', 'set', 'set-full', 'get-many', 'mixed', 'incr'] as const;
/** A timed workload. */
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

/** Phases that `--skip` can leave out. */
export const PHASES = ['workloads', 'memory', 'stability'] as const;
/** A phase of a run. */
export type Phase = (typeof PHASES)[number];

/** Other caching libraries measured beside Larder with `--peers`. */
export const PEER_NAMES = ['keyv', 'cache-manager', 'bentocache', 'lru-cache'] as const;
/** A peer library. */
export type PeerName = (typeof PEER_NAMES)[number];

/** Who does the work in a round: Larder, the raw client by hand, or a peer library. */
export type Side = 'larder' | 'raw' | PeerName;

/** Everything a run was asked to do, after validation. */
export interface BenchOptions {
  backends: BackendName[];
  /** Whether `backends` was given explicitly (then an unavailable server is an error, not a skip). */
  backendsExplicit: boolean;
  workloads: WorkloadId[];
  skip: Phase[];
  quick: boolean;
  peers: boolean;
  /** Serialized size of each value, in bytes. */
  valueSize: number;
  concurrency: number[];
  /** Length of one timed round of one side, ms. */
  durationMs: number;
  /** Untimed warm-up of each side before a case's first round, ms. */
  warmupMs: number;
  /** Rounds per case; each round times every side once, back to back. */
  rounds: number;
  /** Keys loaded before the workloads (the set get-hit reads from). */
  keys: number;
  /** Keys loaded for the memory figure (given per 1M keys). */
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

/** A median with its distribution-free 95 % interval (`medianInterval` in stats.ts). */
export interface Interval {
  median: number;
  low: number;
  high: number;
  /** The interval's exact coverage (≥ 0.95 from 6 rounds on; below that, min–max with less). */
  coverage: number;
}

/** One side's figures in one round. */
export interface SideRound {
  /** Operations that did what the workload expects (only those count as throughput). */
  ops: number;
  elapsedMs: number;
  opsPerSec: number;
  /** Client CPU (user + system, `process.cpuUsage`) over the round ÷ ops, µs. */
  cpuUsPerOp: number;
  p50Ms: number;
  p99Ms: number;
  /** Operations that threw, or (Larder) store errors the cache counted and swallowed. */
  errors: number;
  /** Operations that did not do what the workload expects. */
  failed: number;
}

/** One round: every side timed once, back to back, in `order`. */
export interface Round {
  startedAt: number;
  order: Side[];
  sides: Partial<Record<Side, SideRound>>;
}

/** One side of a case over its rounds: medians of the per-round figures. */
export interface SideSummary {
  /** "Larder", the raw client ("ioredis GET/SET") or the peer ("Keyv 5.6.0 + @keyv/redis"). */
  label: string;
  opsPerSec: number;
  cpuUsPerOp: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  failed: number;
}

/** A side against the raw client: medians of per-round ratios, each with its interval. */
export interface PairedRatio {
  /** ops/s of the side ÷ ops/s of raw: above 1, faster than raw. */
  ops: Interval;
  /** CPU µs per op of the side ÷ raw's: above 1, costlier than raw. */
  cpu: Interval;
}

/** One workload at one concurrency. */
export interface CaseResult {
  workload: WorkloadId;
  concurrency: number;
  keysPerOp: number;
  sides: Partial<Record<Side, SideSummary>>;
  /** Every side but raw, against raw. */
  ratios: Partial<Record<Side, PairedRatio>>;
  rounds: Round[];
}

/** A case that could not be measured. */
export interface CaseFailure {
  workload: WorkloadId;
  concurrency: number;
  error: string;
}

/** Bytes one side needed for the memory load. */
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
}

/** One fault injected under load. */
export interface FaultResult {
  fault: 'kill' | 'pause';
  downMs: number;
  ops: number;
  /** Errors that reached the caller (with ignoreErrors on, Larder should surface none). */
  errorsSurfaced: number;
  /** Operations that took longer than the deadline plus 50 ms of slack. */
  overDeadline: number;
  /** Operations that had not settled after the observation cap. */
  hung: number;
  p99Ms: number;
  maxMs: number;
  recoveryMs: number;
  recovered: boolean;
}

/** Stability of one side of one backend. */
export interface SideStability {
  burst: BurstResult;
  faults: FaultResult[];
  faultsSkipped?: string;
  /** The summary cell, computed from the numbers above. */
  summary: string;
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
  rawClient: string;
  server: ServerInfo;
  cases: CaseResult[];
  failures: CaseFailure[];
  memory?: MemoryResult;
  memoryError?: string;
  stability?: { larder: SideStability; raw: SideStability };
  stabilityError?: string;
  /** Set when the backend could not be measured at all (e.g. loading failed). */
  error?: string;
  seconds: number;
}

/** A backend or peer that was not run, and how to enable it. */
export interface Skipped {
  name: BackendName | PeerName;
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
  schema: 2;
  environment: Environment;
  options: BenchOptions;
  backends: BackendResult[];
  skipped: Skipped[];
  /** Wall time of the run, s. */
  seconds: number;
  notes: string[];
}
