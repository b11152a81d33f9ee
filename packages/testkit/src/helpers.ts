import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, beforeEach, expect } from 'vitest';

/** Small helpers every test file needs; one definition here instead of one per file. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** UTF-8 bytes of a string, as a plain `Uint8Array` (what a Store takes). */
export const bytes = (text: string) => new Uint8Array(Buffer.from(text));

/** A random prefix per test, so tests on a shared server never see each other's keys. */
export const randomPrefix = (label: string) => `${label}${randomBytes(4).toString('hex')}`;

/** Resolves how long `promise` took to settle, in ms, and its outcome. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** Collects unhandled rejections while a test or suite runs. */
export function trackUnhandled(): { list: unknown[]; stop: () => void } {
  const list: unknown[] = [];
  const listener = (reason: unknown) => list.push(reason);
  process.on('unhandledRejection', listener);
  return { list, stop: () => process.off('unhandledRejection', listener) };
}

/** A logger that drops everything, for tests that provoke failures on purpose. */
export const quietLogger = { warn: () => {}, error: () => {} };

/** Registers hooks that fail each test of the file that leaves an unhandled rejection behind. */
export function failOnUnhandledRejections(): void {
  let tracked: ReturnType<typeof trackUnhandled>;
  beforeEach(() => {
    tracked = trackUnhandled();
  });
  afterEach(() => {
    tracked.stop();
    expect(tracked.list).toEqual([]);
  });
}

/**
 * Measures how late the event loop ran between `loopStall()` and `stop()`: on a loaded
 * 2-core VM the test process itself can stall for tens of ms, which no deadline can
 * prevent, so latency bounds add it rather than a fixed margin.
 */
export function loopStall(): { stop: () => number } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      return Math.max(0, histogram.max / 1e6 - 10);
    },
  };
}

/** Scheduling slack on a 2-core machine, added to every deadline bound (ε in RELIABILITY.md). */
export const SLACK_MS = 50;

/**
 * Runs `call` and resolves its duration and outcome together with the bound it must meet:
 * `deadlineMs` + `SLACK_MS` + the event-loop stall measured while it ran.
 */
export async function withinDeadline<T>(
  deadlineMs: number,
  call: () => Promise<T>,
): Promise<{ ms: number; bound: number; value?: T; error?: unknown }> {
  const stall = loopStall();
  const result = await timed(call());
  return { ...result, bound: deadlineMs + SLACK_MS + stall.stop() };
}

/**
 * A factory the test finishes by hand (`state.finish()`), for interleavings such as "the key is
 * deleted while the factory runs". `untilStarted(state)` waits (bounded) until it was called.
 */
export function heldFactory<T>(value: T) {
  const state = { started: false, finish: () => {} };
  const gate = new Promise<void>((resolve) => {
    state.finish = resolve;
  });
  const factory = async () => {
    state.started = true;
    await gate;
    return value;
  };
  return { state, factory };
}

export async function untilStarted(state: { started: boolean }, limitMs = 500): Promise<void> {
  for (let waited = 0; waited < limitMs && !state.started; waited++) await sleep(1);
  expect(state.started, 'the factory was not called').toBe(true);
}
