import { parseArgs } from 'node:util';
import { BACKEND_NAMES, type BenchOptions, PHASES, type Phase, processShare, WORKLOAD_IDS } from './types.js';

/** Bad command-line input: printed with the usage line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Smallest and largest value the generator can build and every backend can hold. */
export const MIN_VALUE_SIZE = 100;
export const MAX_VALUE_SIZE = 512 * 1024;
const MAX_CONCURRENCY = 10_000;
/** Workload processes per backend in a full run. */
const DEFAULT_PROCESSES = 5;
/** Turns, processes and rounds the embedded backends get for each of a server's, by default. */
const DEFAULT_EMBEDDED_WEIGHT = 2;
/** Top-up processes a case may get by default (`--max-rounds`). */
const DEFAULT_TOP_UPS = 3;
/** Data kept loaded for the workloads is capped to this many value bytes per side. */
const WORKING_SET_BYTES = 64 * 1024 * 1024;
/** The memory load is capped to this many value bytes per side; above it the figure is extrapolated. */
const MEMORY_LOAD_BYTES = 512 * 1024 * 1024;

export const USAGE = `Usage: pnpm bench [options]

  --quick                  small sizes and short rounds (all available backends, about a minute)
  --backends <list>        comma-separated: ${BACKEND_NAMES.join(', ')} (default: all;
                           naming a backend makes an unavailable server an error)
  --workloads <list>       comma-separated: ${WORKLOAD_IDS.join(', ')} (default: all)
  --skip <list>            phases to leave out: ${PHASES.join(', ')}
  --value-size <size>      bytes of JSON per value: 100, 1KiB, 100KiB (default 100)
  --concurrency <list>     in-flight operations per case (default 1,64)
  --duration <ms>          length of one timed round (default 600, quick 100)
  --warmup <ms>            warm-up per side before each round, and an untimed warm-up pass
                           over a backend's cases first; 0 for none (default 200, quick 20)
  --rounds <n>             rounds per case and side, >= 3 (default 10, quick 3): one pass over
                           a backend's cases per round, the backends taking turns pass by
                           pass, so a case's rounds are spread over the whole run
  --max-rounds <n>         rounds a case may get in all (default --rounds plus three processes'
                           shares: 16; quick as --rounds): past --rounds, the cases whose
                           median is uncertain by more than 4 % get a fresh top-up process's
                           share of rounds at a time
  --processes <n>          fresh processes each backend's cases are measured in, one after
                           another, each with --rounds / n of the rounds (rounded up); the
                           medians pool them (default 5, or --rounds / 2 when that is fewer;
                           quick 1)
  --embedded-weight <n>    memory and SQLite (no server) get n times the processes and rounds,
                           and n turns for each of a server's, spread through the run
                           (default 2, quick 1): their rounds are pure CPU and move with the
                           host's speed more than a network round trip does
  --speed-wait <s>         seconds per pass the bench may wait for a slowed machine (the speed
                           gauge of a CPU below 80 % of its best) before timing a case; rounds
                           timed while it was slowed are left out of medians (default 0: no
                           gauge, every round counts)
  --keys <n>               keys loaded for the workloads (default 100000, quick 10000)
  --memory-keys <n>        keys loaded for the memory figure (default 1000000, quick 100000)
  --in-flight <n>          operations issued at once in the stability burst (default 5000)
  --fault-ms <ms>          how long a server stays killed or paused (default 1500, quick 500)
  --seed <n>               seed of the data generator (default 1)
  --out <dir>              where result files go (default <repo>/bench-results/<timestamp>)
  --check                  validate the written results JSON; exit 1 when it fails
  --validate <file>        only validate an existing results JSON, run nothing
  --compare <a> <b>        only compare two results JSON files (the throughput medians,
                           concurrency above 1, within ±15 %, memory within ±5 %; the
                           latency medians at 1 are reported beside them); exit 1 when
                           they disagree
  -h, --help               this text

Environment: REDIS_URL, MEMCACHED_URL, DATABASE_URL use those servers instead of starting
local ones (fault runs are then skipped); CI=true silences progress output.`;

/** What the command line asked for: a run, a validation of an existing file, or help. */
export type Command =
  | { kind: 'run'; options: BenchOptions }
  | { kind: 'validate'; file: string }
  | { kind: 'compare'; files: [string, string] }
  | { kind: 'help' };

/** Parses and validates argv (without node and the script); throws `UsageError` on bad input. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.compare === true) {
    const [first, second, extra] = positionals;
    if (first === undefined || second === undefined || extra !== undefined) {
      throw new UsageError('--compare takes two results files: --compare <a/results.json> <b/results.json>');
    }
    return { kind: 'compare', files: [first, second] };
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"; options start with --`);
  }
  if (values.help) return { kind: 'help' };
  if (values.validate !== undefined) return { kind: 'validate', file: values.validate };

  const quick = values.quick === true;
  const valueSize = values['value-size'] === undefined ? 100 : parseSize(values['value-size']);
  const backends =
    values.backends === undefined
      ? [...BACKEND_NAMES]
      : parseList('--backends', values.backends, BACKEND_NAMES);
  const workloads =
    values.workloads === undefined
      ? [...WORKLOAD_IDS]
      : parseList('--workloads', values.workloads, WORKLOAD_IDS);
  const skip = values.skip === undefined ? [] : parseList<Phase>('--skip', values.skip, PHASES);
  const concurrency =
    values.concurrency === undefined ? [1, 64] : parseIntList('--concurrency', values.concurrency);
  for (const c of concurrency) checkRange('--concurrency', c, 1, MAX_CONCURRENCY);

  const durationMs = intOption('--duration', values.duration, quick ? 100 : 600, 10, 600_000);
  const warmupMs = intOption('--warmup', values.warmup, quick ? 20 : 200, 0, 600_000);
  const rounds = intOption('--rounds', values.rounds, quick ? 3 : 10, 3, 1000);
  // Five processes of two rounds each by default: on the VMs measured, one process's luck set
  // all its rounds of a Redis case 20–30 % apart from the other's (docs/benchmarks.md).
  const processes = intOption(
    '--processes',
    values.processes,
    quick ? 1 : Math.max(1, Math.min(DEFAULT_PROCESSES, Math.floor(rounds / 2))),
    1,
    10,
  );
  if (processes > rounds) {
    throw new UsageError(
      `--processes ${processes} is more than --rounds ${rounds}; every process needs at least one round`,
    );
  }
  // Up to three top-up processes by default, for the cases whose median is still uncertain.
  const maxRounds = intOption(
    '--max-rounds',
    values['max-rounds'],
    quick ? rounds : rounds + DEFAULT_TOP_UPS * processShare(rounds, processes),
    3,
    1000,
  );
  if (maxRounds < rounds) {
    throw new UsageError(
      `--max-rounds ${maxRounds} is fewer than --rounds ${rounds}; give at least ${rounds}`,
    );
  }
  const embeddedWeight = intOption(
    '--embedded-weight',
    values['embedded-weight'],
    quick ? 1 : DEFAULT_EMBEDDED_WEIGHT,
    1,
    10,
  );
  const speedWaitMs = intOption('--speed-wait', values['speed-wait'], 0, 0, 3600) * 1000;
  const keysWanted = intOption('--keys', values.keys, quick ? 10_000 : 100_000, 100, 10_000_000);
  const memoryWanted = intOption(
    '--memory-keys',
    values['memory-keys'],
    quick ? 100_000 : 1_000_000,
    1000,
    10_000_000,
  );
  const inFlight = intOption('--in-flight', values['in-flight'], 5000, 1, 1_000_000);
  const faultMs = intOption('--fault-ms', values['fault-ms'], quick ? 500 : 1500, 100, 60_000);
  const seed = intOption('--seed', values.seed, 1, 0, 2 ** 31 - 1);

  // Big values shrink the sets so a run fits in memory; the memory figure is then extrapolated.
  const keys = Math.max(100, Math.min(keysWanted, Math.floor(WORKING_SET_BYTES / valueSize)));
  const memoryKeys = Math.max(1000, Math.min(memoryWanted, Math.floor(MEMORY_LOAD_BYTES / valueSize)));
  if (values.keys !== undefined && keys < keysWanted) {
    throw new UsageError(
      `--keys ${keysWanted} of ${valueSize} bytes is more than ${WORKING_SET_BYTES / 2 ** 20} MiB per side; use at most ${keys}`,
    );
  }

  return {
    kind: 'run',
    options: {
      backends,
      backendsExplicit: values.backends !== undefined,
      workloads,
      skip,
      quick,
      valueSize,
      concurrency,
      durationMs,
      warmupMs,
      rounds,
      maxRounds,
      processes,
      embeddedWeight,
      speedWaitMs,
      keys,
      memoryKeys,
      inFlight,
      faultMs,
      outDir: values.out,
      check: values.check === true,
      seed,
    },
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      backends: { type: 'string' },
      workloads: { type: 'string' },
      skip: { type: 'string' },
      'value-size': { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      'max-rounds': { type: 'string' },
      'embedded-weight': { type: 'string' },
      processes: { type: 'string' },
      'speed-wait': { type: 'string' },
      keys: { type: 'string' },
      'memory-keys': { type: 'string' },
      'in-flight': { type: 'string' },
      'fault-ms': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      check: { type: 'boolean' },
      validate: { type: 'string' },
      compare: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Parses `100`, `1KiB`, `1k`, `100KiB`, `0.5MiB` into bytes, within the sizes the bench supports. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib)?\s*$/i.exec(text);
  if (!match) {
    throw new UsageError(`--value-size "${text}" is not a size; write e.g. 100, 1KiB or 100KiB`);
  }
  const unit = (match[2] ?? 'b').toLowerCase();
  const scale = unit === 'b' ? 1 : unit.startsWith('k') ? 1024 : 1024 * 1024;
  const bytes = Math.round(Number(match[1]) * scale);
  if (bytes < MIN_VALUE_SIZE || bytes > MAX_VALUE_SIZE) {
    throw new UsageError(
      `--value-size ${text} (${bytes} bytes) is outside ${MIN_VALUE_SIZE} bytes to ${MAX_VALUE_SIZE / 1024} KiB`,
    );
  }
  return bytes;
}

/** Parses a comma-separated list of known names; unknown names are an error that lists the known ones. */
export function parseList<T extends string>(flag: string, text: string, known: readonly T[]): T[] {
  const items = text
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '');
  if (items.length === 0) throw new UsageError(`${flag} is empty; choose from ${known.join(', ')}`);
  const unknown = items.filter((item) => !(known as readonly string[]).includes(item));
  if (unknown.length > 0) {
    throw new UsageError(
      `${flag}: unknown ${unknown.map((u) => `"${u}"`).join(', ')}; choose from ${known.join(', ')}`,
    );
  }
  // Keep the canonical order so tables always read the same way.
  return known.filter((name) => items.includes(name));
}

function parseIntList(flag: string, text: string): number[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new UsageError(`${flag} is empty`);
  const numbers = items.map((item) => parseInteger(flag, item));
  return [...new Set(numbers)].sort((a, b) => a - b);
}

function parseInteger(flag: string, text: string): number {
  const cleaned = text.replace(/_/g, '');
  if (!/^-?\d+$/.test(cleaned)) throw new UsageError(`${flag} "${text}" is not a whole number`);
  return Number(cleaned);
}

function intOption(
  flag: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const value = parseInteger(flag, text);
  checkRange(flag, value, min, max);
  return value;
}

function checkRange(flag: string, value: number, min: number, max: number): void {
  if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
    throw new UsageError(`${flag} ${value} is out of range; use ${min} to ${max}`);
  }
}

/** The directory name for a run started at `date`: sortable and free of ':' (2025-01-31T10-20-30). */
export function timestampDir(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/:/g, '-');
}
