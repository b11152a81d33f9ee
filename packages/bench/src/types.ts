import type { Dataset } from './data.js';
import type { Progress } from './progress.js';

/** The backends the bench knows, in the order they are run and printed. */
export const BACKEND_NAMES = ['memory', 'sqlite', 'redis', 'memcached', 'postgres'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The timed workloads, in the order they are run and printed (`set-full` on memory, `get-hot` on Redis only). */
// biome-ignore format: one list reads best on one line
export const WORKLOAD_IDS = ['get-hit', 'get-hot', 'get-miss', 'set', 'set-full', 'get-many', 'mixed', 'incr'] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

/** Phases that `--skip` can leave out. */
export const PHASES = ['workloads', 'memory', 'stability'] as const;
export type Phase = (typeof PHASES)[number];

/** Other caching libraries measured beside Larder with `--peers`. */
export const PEER_NAMES = ['keyv', 'cache-manager', 'bentocache', 'lru-cache'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** Larder set up another way, measured beside plain Larder in every run (variants.ts). */
export const VARIANT_NAMES = ['larder-prometheus', 'larder-l1', 'larder-tags'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

/** Who does the work in a round: Larder, the raw client by hand, a peer library or a Larder variant. */
export type Side = 'larder' | 'raw' | PeerName | VariantName;

/** Everything a run was asked to do, after validation (what `parseCommand` builds). */
export type BenchOptions = Extract<import('./options.js').Command, { kind: 'run' }>['options'];

/** What every phase of a backend needs: the data, the options and where to show progress. */
export type Run = { data: Dataset; options: BenchOptions; progress: Progress };

/** A median with its distribution-free 95 % interval; `coverage` is exact (`medianInterval` in stats.ts). */
export type Interval = ReturnType<typeof import('./stats.js').medianInterval>;

/** One side's figures in one round (`timeSide` in measure.ts). */
export type SideRound = Awaited<ReturnType<typeof import('./measure.js').timeSide>>;

/** One round: every side timed once, back to back, in `order`. */
export type Round = { startedAt: number; order: Side[]; sides: Partial<Record<Side, SideRound>> };

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
export type CaseFailure = { workload: WorkloadId; concurrency: number; error: string };

/** The memory figure of one backend (memory.ts). */
export type MemoryResult = Awaited<ReturnType<typeof import('./memory.js').measureMemory>>;

/** Many operations issued at once, and one fault injected under load (stability.ts). */
export type BurstResult = Awaited<ReturnType<typeof import('./stability.js').burst>>;
export type FaultResult = Awaited<ReturnType<typeof import('./stability.js').faultRuns>>[number];

/** Stability of one side of one backend. */
export type SideStability = {
  burst: BurstResult;
  faults: FaultResult[];
  faultsSkipped?: string;
  summary: string;
};

/** A server the bench used. */
export type ServerInfo = {
  version: string;
  source: 'env' | 'local' | 'container' | 'embedded';
  address: string;
};

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
export type Skipped = { name: BackendName | PeerName | VariantName; reason: string; fix: string };

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
