import { median } from './stats.js';
import type { BackendResult, MinuteSpeed } from './types.js';

/** A minute with fewer rounds than this says too little to be read as the machine's speed. */
export const MIN_ROUNDS_PER_MINUTE = 8;

/**
 * How fast the machine ran, minute by minute, read from the workload rounds themselves: each
 * round's ops/s over the median of its own side and case, so that every case, fast or slow,
 * reads 1 at its own typical speed, and a minute in which most rounds ran below their medians
 * is a minute in which the machine was slow, whatever ran in it. The bench spreads every case
 * over the whole run (the backends take turns pass by pass), so every minute holds rounds of
 * several cases. Rounds without a start time (results from older versions of the bench) are
 * left out; empty when none has one.
 */
export function hostSpeedByMinute(backends: readonly BackendResult[]): MinuteSpeed[] {
  const points: { at: number; speed: number }[] = [];
  for (const backend of backends) {
    for (const c of backend.cases) {
      for (const side of [c.larder, c.raw]) {
        const typical = median(side.rounds.map((r) => r.opsPerSec));
        if (!(typical > 0)) continue;
        for (const round of side.rounds) {
          if (round.startedAt !== undefined)
            points.push({ at: round.startedAt, speed: round.opsPerSec / typical });
        }
      }
    }
  }
  if (points.length === 0) return [];
  const start = Math.min(...points.map((p) => p.at));
  const byMinute = new Map<number, number[]>();
  for (const p of points) {
    const minute = Math.floor((p.at - start) / 60_000);
    const speeds = byMinute.get(minute);
    if (speeds === undefined) byMinute.set(minute, [p.speed]);
    else speeds.push(p.speed);
  }
  return [...byMinute]
    .sort(([a], [b]) => a - b)
    .map(([minute, speeds]) => ({ minute, speed: median(speeds), rounds: speeds.length }));
}

/**
 * The slowest and fastest minute of a run (of those with at least `MIN_ROUNDS_PER_MINUTE`
 * rounds), or undefined when there is none.
 */
export function hostSpeedRange(minutes: readonly MinuteSpeed[]): { min: number; max: number } | undefined {
  const read = minutes.filter((m) => m.rounds >= MIN_ROUNDS_PER_MINUTE).map((m) => m.speed);
  return read.length === 0 ? undefined : { min: Math.min(...read), max: Math.max(...read) };
}

/** A run whose minutes moved further than this from its typical speed is flagged. */
export const STEADY_HOST = 0.1;

/**
 * The note a run gets when the machine's speed (`hostSpeedByMinute`) moved by more than
 * `STEADY_HOST` over it.
 */
export function hostSpeedNote(minutes: readonly MinuteSpeed[]): string | undefined {
  const range = hostSpeedRange(minutes);
  if (range === undefined) return undefined;
  if (range.min >= 1 - STEADY_HOST && range.max <= 1 + STEADY_HOST) return undefined;
  return (
    `The machine's speed moved over this run: read from the rounds themselves (each over its ` +
    `case's median), its minutes ran at ${range.min.toFixed(2)}–${range.max.toFixed(2)} of typical. ` +
    'Every case has rounds from across the run, so its median is typical of this run, but a ' +
    'second run on a machine that is faster or slower throughout will differ by as much; ' +
    'compare the Larder ÷ raw ratios, or two runs with `--compare`, which reports that shift.'
  );
}
