import { parseArgs } from 'node:util';
import { BACKEND_NAMES, PHASES, type Phase, WORKLOAD_IDS } from './types.js';

/** Bad command-line input: printed with the usage line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Smallest and largest value the generator can build and every backend can hold. */
export const MIN_VALUE_SIZE = 100;
export const MAX_VALUE_SIZE = 512 * 1024;
/** What the command line asked for: a run (its options validated), a comparison, or help. */
export type Command = ReturnType<typeof parseCommand>;

const MAX_CONCURRENCY = 10_000;
/** Data kept loaded for the workloads is capped to this many value bytes per side. */
const WORKING_SET_BYTES = 64 * 1024 * 1024;
/** The memory load is capped to this many value bytes per side; above it the figure is extrapolated. */
const MEMORY_LOAD_BYTES = 512 * 1024 * 1024;

/** Defaults of a full run and of `--quick`. */
const DEFAULTS = {
  full: { duration: 60, warmup: 100, rounds: 16, keys: 50_000, memoryKeys: 200_000, faultMs: 1000 },
  quick: { duration: 20, warmup: 10, rounds: 6, keys: 5_000, memoryKeys: 20_000, faultMs: 300 },
};

export const USAGE = `Usage: pnpm bench [options]

  --quick                  small sizes and short rounds, under a minute
  --peers                  also time Keyv, cache-manager and bentocache on Redis and lru-cache
                           beside memory, in the same rounds
  --backends <list>        comma-separated: ${BACKEND_NAMES.join(', ')} (default: all;
                           naming a backend makes an unavailable server an error)
  --workloads <list>       comma-separated: ${WORKLOAD_IDS.join(', ')} (default: all)
  --skip <list>            phases to leave out: ${PHASES.join(', ')}
  --value-size <size>      bytes of JSON per value: 100, 1KiB, 100KiB (default 100)
  --concurrency <list>     in-flight operations per case (default 1,64)
  --rounds <n>             rounds per case, >= 2; each times every side once, back to back
                           (default ${DEFAULTS.full.rounds}, quick ${DEFAULTS.quick.rounds}; 6 or more give a 95 % interval)
  --duration <ms>          one side's time in a round (default ${DEFAULTS.full.duration}, quick ${DEFAULTS.quick.duration})
  --warmup <ms>            untimed warm-up per side before a case's rounds (default ${DEFAULTS.full.warmup}, quick ${DEFAULTS.quick.warmup})
  --keys <n>               keys loaded for the workloads (default ${DEFAULTS.full.keys}, quick ${DEFAULTS.quick.keys})
  --memory-keys <n>        keys loaded for the memory figure, given per 1M keys
                           (default ${DEFAULTS.full.memoryKeys}, quick ${DEFAULTS.quick.memoryKeys})
  --in-flight <n>          operations issued at once in the stability burst (default 5000)
  --fault-ms <ms>          how long a server stays killed or paused (default ${DEFAULTS.full.faultMs}, quick ${DEFAULTS.quick.faultMs})
  --seed <n>               seed of the data generator (default 1)
  --out <dir>              where result files go (default <repo>/bench-results/<timestamp>)
  --check                  validate the results after the run; exit 1 on a problem
  --compare <a> <b>        compare two results.json: a ratio moved when its two 95 % intervals
                           do not overlap; exit 1 when one did
  -h, --help               this text

Environment: REDIS_URL, MEMCACHED_URL, DATABASE_URL use those servers instead of starting
local ones (fault runs are then skipped); CI=true silences progress output.`;

/** Parses and validates argv (without node and the script); throws `UsageError` on bad input. */
export function parseCommand(argv: readonly string[]) {
  const parsed = parse(argv);
  const { positionals } = parsed;
  const values = parsed.values as Record<string, string | undefined>; // flags are read with `flag`
  const flag = (name: string) => parsed.values[name] === true;
  if (flag('compare')) {
    const usage = '--compare takes two results files: --compare <a/results.json> <b/results.json>';
    if (positionals.length !== 2) throw new UsageError(usage);
    return { kind: 'compare' as const, files: positionals as [string, string] };
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"; options start with --`);
  }
  if (flag('help')) return { kind: 'help' as const };

  const quick = flag('quick');
  const d = quick ? DEFAULTS.quick : DEFAULTS.full;
  const int = (name: string, fallback: number, min: number, max: number) => {
    const text = values[name];
    return text === undefined ? fallback : parseInteger(`--${name}`, text, min, max);
  };
  const list = <T extends string>(name: string, known: readonly T[], all: readonly T[]) => {
    const text = values[name];
    return text === undefined ? [...all] : parseList(`--${name}`, text, known);
  };
  const valueSize = values['value-size'] === undefined ? 100 : parseSize(values['value-size']);
  const concurrency = items(values.concurrency ?? '1,64').map((c) =>
    parseInteger('--concurrency', c, 1, MAX_CONCURRENCY),
  );
  if (concurrency.length === 0) throw new UsageError('--concurrency is empty');
  // Big values shrink the sets so a run fits in memory; the memory figure is then extrapolated.
  const keysWanted = int('keys', d.keys, 100, 10_000_000);
  const keys = Math.max(100, Math.min(keysWanted, Math.floor(WORKING_SET_BYTES / valueSize)));
  const memoryKeys = int('memory-keys', d.memoryKeys, 1000, 10_000_000);
  if (values.keys !== undefined && keys < keysWanted) {
    throw new UsageError(
      `--keys ${keysWanted} of ${valueSize} bytes is more than ${WORKING_SET_BYTES / 2 ** 20} MiB per side; use at most ${keys}`,
    );
  }
  return {
    kind: 'run' as const,
    options: {
      backends: list('backends', BACKEND_NAMES, BACKEND_NAMES),
      backendsExplicit: values.backends !== undefined,
      workloads: list('workloads', WORKLOAD_IDS, WORKLOAD_IDS),
      skip: list<Phase>('skip', PHASES, []),
      quick,
      peers: flag('peers'),
      valueSize,
      concurrency: [...new Set(concurrency)].sort((a, b) => a - b),
      // One side's time in a round, and its warm-up once per case.
      durationMs: int('duration', d.duration, 10, 600_000),
      warmupMs: int('warmup', d.warmup, 0, 600_000),
      rounds: int('rounds', d.rounds, 2, 1000),
      keys,
      memoryKeys: Math.max(1000, Math.min(memoryKeys, Math.floor(MEMORY_LOAD_BYTES / valueSize))),
      inFlight: int('in-flight', 5000, 1, 1_000_000),
      faultMs: int('fault-ms', d.faultMs, 100, 60_000),
      outDir: values.out,
      check: flag('check'),
      seed: int('seed', 1, 0, 2 ** 31 - 1),
    },
  };
}

/** The options, read from the usage text: one with an `<argument>` takes a value (`--compare` takes positionals). */
function parse(argv: readonly string[]) {
  const spec = [...USAGE.matchAll(/^ {2}(?:-h, )?--([a-z-]+)( <)?/gm)].map(([, name, arg]) => [
    name,
    { type: arg && name !== 'compare' ? 'string' : 'boolean', ...(name === 'help' ? { short: 'h' } : {}) },
  ]);
  const options = Object.fromEntries(spec) as Record<string, { type: 'string' | 'boolean'; short?: string }>;
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Parses `100`, `1KiB`, `1k`, `100KiB`, `0.5MiB` into bytes, within the sizes the bench supports. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib)?\s*$/i.exec(text);
  if (!match) throw new UsageError(`--value-size "${text}" is not a size; write e.g. 100, 1KiB or 100KiB`);
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

const items = (text: string) => text.split(',').flatMap((item) => item.trim() || []);

/** Parses a comma-separated list of known names; unknown names are an error that lists the known ones. */
export function parseList<T extends string>(flag: string, text: string, known: readonly T[]): T[] {
  const names = items(text.toLowerCase());
  if (names.length === 0) throw new UsageError(`${flag} is empty; choose from ${known.join(', ')}`);
  const unknown = names.filter((item) => !(known as readonly string[]).includes(item));
  if (unknown.length > 0) {
    const list = unknown.map((u) => `"${u}"`).join(', ');
    throw new UsageError(`${flag}: unknown ${list}; choose from ${known.join(', ')}`);
  }
  // Keep the canonical order so tables always read the same way.
  return known.filter((name) => names.includes(name));
}

/** A whole number from `min` to `max` (`_` separators allowed). */
function parseInteger(flag: string, text: string, min: number, max: number): number {
  const cleaned = text.replace(/_/g, '');
  if (!/^-?\d+$/.test(cleaned)) throw new UsageError(`${flag} "${text}" is not a whole number`);
  const value = Number(cleaned);
  if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
    throw new UsageError(`${flag} ${value} is out of range; use ${min} to ${max}`);
  }
  return value;
}

/** The directory name for a run started at `date`: sortable and free of ':' (2025-01-31T10-20-30). */
export const timestampDir = (date: Date): string => date.toISOString().slice(0, 19).replace(/:/g, '-');
