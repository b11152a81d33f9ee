import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A round counts toward a median only if the gauge read at least this fraction of its best
 * around it. On the 2-vCPU VMs this bench was built on, the gauge read either 90–100 % or
 * about 55–60 % of its best, in spells of one to tens of seconds, while a register-only loop
 * stayed at 95 %: the host, not this process, slows cache-heavy code by almost half.
 */
export const FULL_SPEED = 0.8;

const PROBE_MS = 15;
const KEYS = 1000;
const POLL_MS = 200;

/** What `waitForFullSpeed` found. */
export interface SpeedReading {
  /** The gauge's speed, operations per ms. */
  speed: number;
  /** How long it waited for the machine to come back to full speed, ms. */
  waitedMs: number;
}

/**
 * A fixed piece of work that tells how fast this machine runs code like the bench's right
 * now: lookups of 1,000 string keys in a `Map` for 15 ms. It is read before and after each
 * visit of a case; rounds timed while it read below `FULL_SPEED` of its best are kept in
 * the results but left out of the medians, and the bench waits (within a budget) for the
 * machine to come back before timing the next visit.
 */
export class SpeedGauge {
  readonly #map = new Map<string, string>();
  readonly #keys: string[] = [];
  readonly #probe: () => number;
  #best = 0;
  #waitedMs = 0;

  /** `probe` replaces the Map lookups (tests script a machine with it): one reading, operations per ms. */
  constructor(probe?: () => number) {
    this.#probe = probe ?? (() => this.#lookups());
    for (let i = 0; i < KEYS; i++) {
      const key = `gauge:${i}`;
      this.#keys.push(key);
      this.#map.set(key, `value ${i}`);
    }
  }

  /** The fastest reading so far, operations per ms (0 before the first). */
  get best(): number {
    return this.#best;
  }

  /** Total time spent waiting for full speed, ms. */
  get waitedMs(): number {
    return this.#waitedMs;
  }

  /** One reading, operations per ms; the best so far follows it. */
  read(): number {
    const speed = this.#probe();
    if (speed > this.#best) this.#best = speed;
    return speed;
  }

  /** Operations per ms of `Map` lookups over `PROBE_MS`. */
  #lookups(): number {
    const keys = this.#keys;
    const map = this.#map;
    let operations = 0;
    let length = 0;
    const started = performance.now();
    let now = started;
    while (now - started < PROBE_MS) {
      for (let i = 0; i < KEYS; i++) length += map.get(keys[i]!)!.length;
      operations += KEYS;
      now = performance.now();
    }
    // `length` is always positive; using it keeps the loop from being optimized away.
    return length > 0 ? operations / (now - started) : 0;
  }

  /** Whether a reading is at full speed against the best so far. */
  isFull(speed: number): boolean {
    return speed >= FULL_SPEED * this.#best;
  }

  /** A reading relative to the best so far (1 = as fast as ever seen). */
  relative(speed: number): number {
    return this.#best > 0 ? speed / this.#best : 1;
  }

  /** Reads the gauge a few times, apart, so that the best reflects a machine at full speed. */
  async calibrate(readings = 8): Promise<void> {
    for (let i = 0; i < readings; i++) {
      this.read();
      await sleep(POLL_MS / 4);
    }
  }

  /**
   * Reads the gauge until it is at full speed or `budgetMs` has passed; resolves the last
   * reading and how long it waited. A budget of 0 reads once and never waits.
   */
  async waitForFullSpeed(budgetMs: number): Promise<SpeedReading> {
    let speed = this.read();
    if (this.isFull(speed) || budgetMs <= 0) return { speed, waitedMs: 0 };
    const started = performance.now();
    while (!this.isFull(speed) && performance.now() - started + POLL_MS <= budgetMs) {
      await sleep(POLL_MS);
      speed = this.read();
    }
    const waitedMs = performance.now() - started;
    this.#waitedMs += waitedMs;
    return { speed, waitedMs };
  }
}
