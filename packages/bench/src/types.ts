/** The backends the bench knows, in the order they are run and printed. */
export const BACKEND_NAMES = ['memory', 'sqlite', 'redis', 'memcached', 'postgres'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The timed workloads, in the order they are run and printed (`set-full` on memory, `get-hot` on Redis only). */
export const WORKLOAD_IDS = [
  'get-hit',
  'get-hot',
  'get-miss',
  'set',
  'set-full',
  'get-many',
  'mixed',
  'incr',
] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

/** Phases that `--skip` can leave out. */
export const PHASES = ['workloads', 'memory', 'stability'] as const;
export type Phase = (typeof PHASES)[number];

/** Other caching libraries measured beside Larder with `--peers`. */
export const PEER_NAMES = ['keyv', 'cache-manager', 'bentocache', 'lru-cache'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** Larder set up another way, measured beside plain Larder in every run (variants.ts). */
export const VARIANT_NAMES = ['larder-prometheus', 'larder-l1'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

/** Who does the work in a round: Larder, the raw client by hand, a peer library or a Larder variant. */
export type Side = 'larder' | 'raw' | PeerName | VariantName;

/** Everything a run was asked to do, after validation. */
export interface BenchOptions {
  backends: BackendName[];
  backendsExplicit: boolean;
  workloads: WorkloadId[];
  skip: Phase[];
  quick: boolean;
  peers: boolean;
  valueSize: number;
  concurrency: number[];
  durationMs: number; // one side's time in a round
  warmupMs: number; // once per side before a case's rounds
  rounds: number;
  keys: number;
  memoryKeys: number;
  inFlight: number;
  faultMs: number;
  outDir: string | undefined;
  check: boolean;
  seed: number;
}

/** A median with its distribution-free 95 % interval (`medianInterval` in stats.ts). */
export interface Interval {
  median: number;
  low: number;
  high: number;
  coverage: number; // exact: ≥ 0.95 from 6 rounds on; below that min–max, with less
}

/** One side's figures in one round. */
export interface SideRound {
  ops: number; // operations that did what the workload expects (errors and misses excluded)
  elapsedMs: number;
  opsPerSec: number;
  cpuUsPerOp: number; // client CPU (user + system) over the round ÷ ops, µs
  p50Ms: number;
  p99Ms: number;
  errors: number;
  failed: number;
}

/** One round: every side timed once, back to back, in `order`. */
export interface Round {
  startedAt: number;
  order: Side[];
  sides: Partial<Record<Side, SideRound>>;
}

/** One side of a case over its rounds: medians of the per-round figures (errors summed), and who it is. */
export type SideSummary = Omit<SideRound, 'ops' | 'elapsedMs'> & { label: string; note?: string };

/** A side against the raw client: medians of per-round ratios, each with its interval. */
export interface PairedRatio {
  ops: Interval;
  cpu: Interval;
  /** A variant's ops/s ÷ plain Larder's, paired the same way. */
  vsLarder?: Interval;
}

/** One workload at one concurrency. */
export interface CaseResult {
  workload: WorkloadId;
  concurrency: number;
  keysPerOp: number;
  sides: Partial<Record<Side, SideSummary>>;
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
  extrapolated: boolean;
  method: string;
  rawMethod: string;
  larder: MemorySide;
  raw: MemorySide;
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
  errorsSurfaced: number;
  overDeadline: number;
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
  summary: string;
}

/** A server the bench used. */
export interface ServerInfo {
  version: string;
  source: 'env' | 'local' | 'container' | 'embedded';
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
  error?: string;
  seconds: number;
}

/** A backend or peer that was not run, and how to enable it. */
export interface Skipped {
  name: BackendName | PeerName | VariantName;
  reason: string;
  fix: string;
}

/** Where and with what the results were measured (date, Node, CPU, OS, load, client versions). */
export type Environment = ReturnType<typeof import('./env.js').describeEnvironment>;

/** The whole results file. */
export interface BenchResults {
  schema: 2;
  environment: Environment;
  options: BenchOptions;
  backends: BackendResult[];
  skipped: Skipped[];
  seconds: number;
}
