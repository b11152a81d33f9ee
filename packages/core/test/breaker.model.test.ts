import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// By path: testkit depends on core, so core cannot depend on it as a package.
import { loopStall, SLACK_MS } from '../../testkit/src/helpers.js';
import {
  type CacheLogger,
  createCache,
  NotIntegerError,
  type Store,
  type StoreCapabilities,
} from '../src/index.js';

/**
 * Model test of the circuit breaker and the deadline. Random sequences of store outcomes
 * and clock jumps run through a real `Cache`; after every call the observed behaviour is
 * checked against the specification:
 *
 * - closed: every call reaches the store; `failures` consecutive faults open the circuit;
 * - open: calls are refused (E_CIRCUIT_OPEN, the store is not called) until the cooldown ends;
 * - after the cooldown exactly one call (the probe) reaches the store: if the store answers —
 *   a value, or a programmer error such as NotIntegerError — the circuit closes; a fault or
 *   a hang (a timeout) opens it for another cooldown;
 * - no call settles later than its deadline.
 */
const SEED = Number(process.env.LARDER_FC_SEED ?? 20261203);
const RUNS = 40;
const FAILURES = 3;
const COOLDOWN = 1000;
const TIMEOUT = 25;

type Outcome = 'ok' | 'fault' | 'programmer' | 'hang';
type Step = { outcome: Outcome; advance: number };

/** A store whose next `incr` ends as scripted. */
class ScriptedStore implements Store {
  readonly name = 'scripted';
  readonly capabilities: StoreCapabilities = {
    ttlGranularityMs: 1,
    maxKeyBytes: 1024,
    maxValueBytes: 1024,
    clearScope: 'prefix',
    atomicIncr: true,
    nativeTtl: true,
  };
  next: Outcome = 'ok';
  calls = 0;

  incr(): Promise<number> {
    this.calls++;
    switch (this.next) {
      case 'ok':
        return Promise.resolve(1);
      case 'fault':
        return Promise.reject(new Error('connect ECONNREFUSED (scripted)'));
      case 'programmer':
        return Promise.reject(new NotIntegerError('not an integer (scripted)'));
      case 'hang':
        return new Promise(() => {});
    }
  }
  get = () => Promise.resolve(undefined);
  getMany = () => Promise.resolve([]);
  set = () => Promise.resolve();
  setMany = () => Promise.resolve();
  add = () => Promise.resolve(true);
  delete = () => Promise.resolve(false);
  deleteMany = () => Promise.resolve(0);
  has = () => Promise.resolve(false);
  touch = () => Promise.resolve(false);
  ttl = () => Promise.resolve(undefined);
  clear = () => Promise.resolve();
  info = () => Promise.resolve({});
  close = () => Promise.resolve();
}

/** The specification, as a state machine. */
class BreakerModel {
  consecutive = 0;
  openUntil: number | undefined;

  /** Whether a call at `now` reaches the store. */
  reaches(now: number): boolean {
    return this.openUntil === undefined || now >= this.openUntil;
  }

  record(now: number, outcome: Outcome): void {
    const probe = this.openUntil !== undefined;
    if (outcome === 'ok' || outcome === 'programmer') {
      this.consecutive = 0;
      this.openUntil = undefined;
      return;
    }
    this.consecutive++;
    if (probe || this.consecutive >= FAILURES) this.openUntil = now + COOLDOWN;
  }
}

const steps = fc.array(
  fc.record({
    outcome: fc.constantFrom<Outcome>('ok', 'fault', 'fault', 'programmer', 'hang'),
    advance: fc.constantFrom(0, 0, 100, 600, COOLDOWN),
  }),
  { minLength: 5, maxLength: 25 },
);

describe('model: circuit breaker and deadline', () => {
  it(`match the specification over random sequences (${RUNS} runs, seed ${SEED})`, async () => {
    const quiet: CacheLogger = { warn: () => {}, error: () => {} };
    await fc.assert(
      fc.asyncProperty(steps, async (sequence: Step[]) => {
        let now = 0;
        const store = new ScriptedStore();
        const cache = createCache({
          store,
          logger: quiet,
          timeout: TIMEOUT,
          circuitBreaker: { failures: FAILURES, cooldown: COOLDOWN },
          now: () => now,
        });
        const refused: string[] = [];
        cache.on('error', ({ error }) => {
          if (error.code === 'E_CIRCUIT_OPEN') refused.push(error.code);
        });
        const model = new BreakerModel();
        for (const { outcome, advance } of sequence) {
          now += advance;
          store.next = outcome;
          const callsBefore = store.calls;
          const refusedBefore = refused.length;
          const expectReach = model.reaches(now);
          const stall = loopStall();
          const started = performance.now();
          const result = await cache.incr('k').then(
            (value) => ({ value }),
            (error: unknown) => ({ error }),
          );
          expect(performance.now() - started).toBeLessThan(TIMEOUT + SLACK_MS + stall.stop());
          expect(store.calls - callsBefore).toBe(expectReach ? 1 : 0);
          if (!expectReach) {
            expect(result).toEqual({ value: undefined });
            expect(refused.length - refusedBefore).toBe(1);
            continue;
          }
          model.record(now, outcome);
          if (outcome === 'ok') expect(result).toEqual({ value: 1 });
          else if (outcome === 'programmer')
            expect('error' in result && result.error).toBeInstanceOf(NotIntegerError);
          else expect(result).toEqual({ value: undefined });
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 60_000);
});
