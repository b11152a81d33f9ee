import { ProbeProcess } from './speed-gauge.js';
import { median } from './stats.js';
import type { YardstickResult } from './types.js';

/** Readings taken at each stop: their median is the stop's, so one preempted reading does not count. */
const READINGS_PER_STOP = 3;

/**
 * A fixed piece of work, the same in every run and every version of Larder, timed between the
 * workload turns, while every backend's process and server sits idle: the speed gauge's probe
 * (random lookups in a `Map` of 200,000 keys, 15 ms), in one unpinned process. Its median over
 * a run says how fast the machine ran that run, measured apart from anything the bench
 * measures: `--compare` gives its change beside the shift the figures share, a second witness
 * to a machine that ran faster or slower throughout (docs/benchmarks.md, session 11).
 */
export class Yardstick {
  readonly #probe: ProbeProcess;
  readonly #stops: YardstickResult['stops'] = [];
  #failed = false;

  private constructor(probe: ProbeProcess) {
    this.#probe = probe;
  }

  /** Starts the probe process and waits for its first reading (which is not kept). */
  static async start(): Promise<Yardstick> {
    const probe = new ProbeProcess('any');
    try {
      await probe.read();
    } catch (error) {
      probe.stop();
      throw error;
    }
    return new Yardstick(probe);
  }

  /**
   * Times the probe `READINGS_PER_STOP` times and keeps their median, lookups per ms. Never
   * throws: a probe that fails stops the yardstick (the stops so far are kept) and the bench
   * goes on without it.
   */
  async stop(): Promise<void> {
    if (this.#failed) return;
    const at = Date.now();
    try {
      const speeds: number[] = [];
      for (let i = 0; i < READINGS_PER_STOP; i++) speeds.push(await this.#probe.read());
      this.#stops.push({ at, speed: median(speeds) });
    } catch {
      this.#failed = true;
      this.#probe.stop();
    }
  }

  /** The run's yardstick; undefined before the first stop. */
  result(): YardstickResult | undefined {
    if (this.#stops.length === 0) return undefined;
    return { lookupsPerMs: median(this.#stops.map((s) => s.speed)), stops: [...this.#stops] };
  }

  close(): void {
    this.#probe.stop();
  }
}
