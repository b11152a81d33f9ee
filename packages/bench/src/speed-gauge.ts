import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackChild } from './lifecycle.js';

/**
 * A round counts toward a median only if every CPU's gauge read at least this fraction of
 * its best (`BEST_PERCENTILE`) around it. On the 2-vCPU VMs this bench was built on, the
 * host slows memory-bound code in spells of one to tens of seconds, each vCPU on its own.
 * In one such spell a probe over 200,000 keys (a workload's working set is 100,000) fell
 * from 0.87–1.04 of the 90th percentile of its readings to 0.61–0.87, while a probe over
 * 1,000 keys, which stay in the CPU's cache, barely moved (0.87–0.92 of its highest).
 */
export const FULL_SPEED = 0.8;

/**
 * A CPU's best is this percentile of its readings so far (the highest reading while there
 * are fewer than `PERCENTILE_AFTER`): a single lucky reading of a probe that misses the cache
 * on every lookup would otherwise set a bar that few later readings reach.
 */
const BEST_PERCENTILE = 0.9;
const PERCENTILE_AFTER = 10;

/** Above this many CPUs the gauge runs one unpinned probe instead of one per CPU. */
const MAX_PINNED_CPUS = 8;
const POLL_MS = 200;
const START_TIMEOUT_MS = 10_000;

/**
 * The probe each gauge process runs on request (one line on stdin): lookups of string keys
 * in a `Map` of 200,000 entries (about 30 MB with their values, more than a CPU's cache, as a
 * workload's data is), in a fixed pseudo-random order, for 15 ms, printed as operations per
 * ms. It reads the very key strings it stored. `length` is always positive; using it keeps
 * the loop from being optimized away.
 */
const PROBE_SOURCE = `
const entries = 200000;
const stored = [];
const map = new Map();
for (let i = 0; i < entries; i++) {
  const key = 'gauge:' + i;
  stored.push(key);
  map.set(key, 'value ' + i + ' of the speed gauge, about as long as a cached JSON value');
}
let seed = 7;
const keys = [];
for (let i = 0; i < 65536; i++) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  keys.push(stored[seed % entries]);
}
let next = 0;
function probe() {
  let operations = 0;
  let length = 0;
  const started = performance.now();
  let now = started;
  while (now - started < 15) {
    for (let i = 0; i < 1000; i++) length += map.get(keys[next++ & 65535]).length;
    operations += 1000;
    now = performance.now();
  }
  return length > 0 ? operations / (now - started) : 0;
}
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  let end;
  while ((end = pending.indexOf('\\n')) >= 0) {
    pending = pending.slice(end + 1);
    process.stdout.write(probe() + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

/** A gauge reading: operations per ms, one per CPU watched. */
export type Reading = readonly number[];

/** What `waitForFullSpeed` found. */
export interface SpeedReading {
  /** The last reading. */
  speed: Reading;
  /** How long it waited for the machine to come back to full speed, ms. */
  waitedMs: number;
}

/** What the cases need of a gauge: `SpeedGauge` in the process that owns the probes, `GaugeClient` elsewhere. */
export interface Gauge {
  /** Processes whose CPU time is the gauge's and not another tenant's. */
  readonly pids: readonly number[];
  /** One reading of every CPU. */
  read(): Promise<Reading>;
  /** Reads until every CPU is at full speed or `budgetMs` has passed (0: reads once). */
  waitForFullSpeed(budgetMs: number): Promise<SpeedReading>;
  /** A reading relative to the bests so far: that of the slowest CPU (1 = at its best). */
  relative(speed: Reading): number;
  /** Whether every CPU of a reading is at full speed against its best so far. */
  isFull(speed: Reading): boolean;
}

/** A reading relative to `best`, CPU by CPU: that of the slowest CPU (a CPU with no best yet reads 1). */
export function relativeSpeed(speed: Reading, best: readonly number[]): number {
  return Math.min(...speed.map((s, i) => (best[i]! > 0 ? s / best[i]! : 1)));
}

/** Reads every CPU's probe once, in parallel: operations per ms, in the order of `cpus`. */
export type Probe = () => Reading | Promise<Reading>;

/** What a gauge watches besides its probe; all optional (one unpinned CPU, nothing to stop). */
export interface GaugeParts {
  cpus?: readonly (number | 'any')[];
  pids?: readonly number[];
  close?: () => void;
}

/**
 * A fixed piece of work that tells how fast each CPU of this machine runs code like the
 * bench's right now. It is read before and after each visit of a case; rounds timed while
 * any CPU read below `FULL_SPEED` of its best are kept in the results but left out of the
 * medians, and the bench waits (within a budget) for the machine to come back before timing
 * the next visit. Every CPU is watched because the bench's client and the server it talks to
 * run on different CPUs, and the host slows each vCPU on its own.
 */
export class SpeedGauge implements Gauge {
  /** The CPUs watched, by number ('any' for one unpinned probe). */
  readonly cpus: readonly (number | 'any')[];
  /** The probe processes, whose CPU time is the gauge's and not another tenant's. */
  readonly pids: readonly number[];
  readonly #probe: Probe;
  readonly #close: () => void;
  #best: number[];
  /** Every reading so far, per CPU, in ascending order. */
  readonly #history: number[][];
  #waitedMs = 0;

  /**
   * `probe` reads the machine (tests script one with it); `close` stops what it runs.
   * Use `SpeedGauge.start()` for the real gauge.
   */
  constructor(probe: Probe, { cpus = ['any'], pids = [], close = () => {} }: GaugeParts = {}) {
    this.#probe = probe;
    this.cpus = cpus;
    this.pids = pids;
    this.#close = close;
    this.#best = cpus.map(() => 0);
    this.#history = cpus.map(() => []);
  }

  /**
   * Starts one probe process per CPU this process may run on, each pinned to its CPU with
   * `taskset`; with no `taskset`, no CPU list or more than `MAX_PINNED_CPUS` CPUs, one
   * unpinned probe process.
   */
  static async start(): Promise<SpeedGauge> {
    const cpus = allowedCpus();
    if (cpus !== undefined && cpus.length <= MAX_PINNED_CPUS) {
      const pinned = cpus.map((cpu) => new ProbeProcess(cpu));
      try {
        await Promise.all(pinned.map((p) => p.read()));
        return SpeedGauge.#over(pinned, cpus);
      } catch {
        for (const p of pinned) p.stop();
      }
    }
    const unpinned = new ProbeProcess('any');
    await unpinned.read();
    return SpeedGauge.#over([unpinned], ['any']);
  }

  static #over(probes: ProbeProcess[], cpus: readonly (number | 'any')[]): SpeedGauge {
    return new SpeedGauge(() => Promise.all(probes.map((p) => p.read())), {
      cpus,
      pids: probes.flatMap((p) => p.pid ?? []),
      close: () => {
        for (const p of probes) p.stop();
      },
    });
  }

  /**
   * Each CPU's best so far, operations per ms (0 before the first reading): the
   * `BEST_PERCENTILE` of its readings, or the highest while there are few.
   */
  get best(): readonly number[] {
    return this.#best;
  }

  /** Total time spent waiting for full speed, ms. */
  get waitedMs(): number {
    return this.#waitedMs;
  }

  /** One reading of every CPU; the bests follow it. */
  async read(): Promise<Reading> {
    const speed = await this.#probe();
    if (speed.length !== this.#best.length) {
      throw new Error(`speed gauge: ${speed.length} readings for ${this.#best.length} CPUs`);
    }
    this.#best = this.#history.map((history, i) => {
      insertSorted(history, speed[i]!);
      if (history.length < PERCENTILE_AFTER) return history[history.length - 1]!;
      return history[Math.floor(BEST_PERCENTILE * (history.length - 1))]!;
    });
    return speed;
  }

  /** A reading relative to the bests so far: that of the slowest CPU (1 = at its best). */
  relative(speed: Reading): number {
    return relativeSpeed(speed, this.#best);
  }

  /** Whether every CPU of a reading is at full speed against its best so far. */
  isFull(speed: Reading): boolean {
    return this.relative(speed) >= FULL_SPEED;
  }

  /** Reads the gauge a few times, apart, so that the bests reflect a machine at full speed. */
  async calibrate(readings = 8): Promise<void> {
    for (let i = 0; i < readings; i++) {
      await this.read();
      await sleep(POLL_MS / 4);
    }
  }

  /**
   * Reads the gauge until it is at full speed or `budgetMs` has passed; resolves the last
   * reading and how long it waited. A budget of 0 reads once and never waits.
   */
  async waitForFullSpeed(budgetMs: number): Promise<SpeedReading> {
    let speed = await this.read();
    if (this.isFull(speed) || budgetMs <= 0) return { speed, waitedMs: 0 };
    const started = performance.now();
    while (!this.isFull(speed) && performance.now() - started + POLL_MS <= budgetMs) {
      await sleep(POLL_MS);
      speed = await this.read();
    }
    const waitedMs = performance.now() - started;
    this.#waitedMs += waitedMs;
    return { speed, waitedMs };
  }

  /** Stops the probe processes. */
  close(): void {
    this.#close();
  }
}

/** What the owner of a `SpeedGauge` answers a `GaugeClient`: a reading, the wait for it, and the bests by then. */
export interface GaugeAnswer extends SpeedReading {
  best: number[];
}

/**
 * A gauge read through the process that owns the probes (the bench measures each backend's
 * workloads in a child process; one set of probes and one set of bests serve them all).
 * `ask(budgetMs)` must answer with the owner's `waitForFullSpeed(budgetMs)` and its bests.
 */
export class GaugeClient implements Gauge {
  readonly pids: readonly number[];
  readonly #ask: (budgetMs: number) => Promise<GaugeAnswer>;
  #best: readonly number[] = [];

  constructor(pids: readonly number[], ask: (budgetMs: number) => Promise<GaugeAnswer>) {
    this.pids = pids;
    this.#ask = ask;
  }

  async read(): Promise<Reading> {
    return (await this.waitForFullSpeed(0)).speed;
  }

  async waitForFullSpeed(budgetMs: number): Promise<SpeedReading> {
    const { speed, waitedMs, best } = await this.#ask(budgetMs);
    this.#best = best;
    return { speed, waitedMs };
  }

  relative(speed: Reading): number {
    return relativeSpeed(speed, this.#best);
  }

  isFull(speed: Reading): boolean {
    return this.relative(speed) >= FULL_SPEED;
  }
}

/** Inserts `value` into an ascending list, keeping it ascending. */
function insertSorted(list: number[], value: number): void {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (list[mid]! <= value) low = mid + 1;
    else high = mid;
  }
  list.splice(low, 0, value);
}

/** The slower of two readings, CPU by CPU. */
export function slowest(a: Reading, b: Reading): Reading {
  return a.map((speed, i) => Math.min(speed, b[i]!));
}

/** The CPUs this process may run on (Linux), or undefined where that cannot be read. */
export function allowedCpus(status = readStatus()): number[] | undefined {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status ?? '')?.[1];
  if (list === undefined) return undefined;
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    if (!Number.isInteger(from) || !Number.isInteger(to)) return undefined;
    for (let cpu = from!; cpu <= to!; cpu++) cpus.push(cpu);
  }
  return cpus.length > 0 ? cpus : undefined;
}

function readStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}

/** One probe process, pinned to a CPU with `taskset` or unpinned; answers one reading per request. */
export class ProbeProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: { resolve: (speed: number) => void; reject: (error: Error) => void }[] = [];
  #failure: Error | undefined;
  #stopped = false;

  constructor(cpu: number | 'any') {
    const node = [process.execPath, '-e', PROBE_SOURCE];
    this.#child =
      cpu === 'any' ? spawn(node[0]!, node.slice(1)) : spawn('taskset', ['--cpu-list', String(cpu), ...node]);
    trackChild(this.#child);
    let pending = '';
    this.#child.stdout.setEncoding('utf8');
    this.#child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let end = pending.indexOf('\n');
      while (end >= 0) {
        const speed = Number(pending.slice(0, end));
        pending = pending.slice(end + 1);
        this.#waiting.shift()?.resolve(speed);
        end = pending.indexOf('\n');
      }
    });
    let stderr = '';
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const fail = (error: Error) => {
      this.#failure ??= error;
      for (const w of this.#waiting.splice(0)) w.reject(this.#failure);
    };
    this.#child.on('error', fail);
    this.#child.stdin.on('error', fail);
    this.#child.on('exit', (code, signal) => {
      const why = stderr.trim().slice(0, 300);
      fail(new Error(`speed gauge probe on CPU ${cpu} exited (${signal ?? code})${why ? `: ${why}` : ''}`));
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  read(): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`speed gauge probe gave no reading in ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      this.#waiting.push({
        resolve: (speed) => {
          clearTimeout(timer);
          resolve(speed);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#child.stdin.write('\n');
    });
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#child.stdin.end();
    this.#child.kill();
  }
}
