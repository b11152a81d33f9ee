import { formatRatio, textTable } from './format.js';
import { hostSpeedByMinute, hostSpeedRange } from './host-speed.js';
import { median, medianError, pooledMedianError } from './stats.js';
import type { BenchResults, SideResult } from './types.js';

/** How far apart two runs may be and still agree, as fractions (0.15 = ±15 %). */
export interface Tolerances {
  throughput: number;
  memory: number;
}

/**
 * The tolerances of the bench's acceptance: ±15 % on throughput medians (concurrency above 1;
 * see `Comparison.judged`), ±5 % on memory.
 */
export const DEFAULT_TOLERANCES: Tolerances = { throughput: 0.15, memory: 0.05 };

/** One figure found in both runs. */
export interface ComparedFigure {
  /** backend · workload · concurrency · side, or backend · memory · side. */
  label: string;
  kind: 'throughput' | 'ratio' | 'memory';
  first: number;
  second: number;
  /** second ÷ first − 1. */
  change: number;
  agrees: boolean;
  /** Throughput only: the case's concurrency. */
  concurrency?: number;
  /**
   * Throughput only: each run's rounds and the standard error of its median (relative), and
   * the change in units of the two errors combined (√(e₁² + e₂²)).
   */
  samples?: { rounds: [number, number]; medianErrors: [number, number]; sigmas: number };
}

/**
 * Rounds and median error of one side in both runs, over the rounds that count (computed
 * from the rounds, so older files, whose rounds all count, have it too; rounds that name
 * their process are judged by `pooledMedianError`).
 */
function samples(a: SideResult, b: SideResult, change: number): ComparedFigure['samples'] {
  const counted = (s: SideResult) => s.rounds.filter((r) => r.counted !== false);
  const error = (s: SideResult) => pooledMedianError(counted(s));
  const errors: [number, number] = [error(a), error(b)];
  const combined = Math.hypot(...errors);
  const sigmas = combined > 0 ? Math.abs(change) / combined : change === 0 ? 0 : Number.POSITIVE_INFINITY;
  return { rounds: [counted(a).length, counted(b).length], medianErrors: errors, sigmas };
}

/**
 * How many combined median errors a change may span and still be put down to the runs' own
 * noise: two medians of the same speed differ by more than 2σ in about 1 case in 20.
 */
export const NOISE_SIGMAS = 2;

/** Agreement of one kind of figure between two runs. */
export interface Agreement {
  total: number;
  within: number;
  /** The median of |change| over the figures. */
  medianChange: number;
  worst: ComparedFigure[];
}

type HostRange = { min: number; max: number };

/** What `compareRuns` found. */
export interface Comparison {
  tolerances: Tolerances;
  figures: ComparedFigure[];
  /** Every ops/s median, at every concurrency (the verdict judges `judged`, a part of them). */
  throughput: Agreement;
  /**
   * The ops/s medians by concurrency, lowest first: at 1 a round is bound by the
   * latency of one operation (on a VM, largely vCPU wake-ups), above it by throughput.
   */
  throughputByConcurrency: { concurrency: number; agreement: Agreement }[];
  /**
   * How much faster (positive) or slower the second run was across the board: the median over
   * the throughput figures of second ÷ first, less 1. A machine that runs faster or slower
   * throughout one run moves every figure by about this much.
   */
  machineShift: number;
  /** The throughput medians with `machineShift` divided out of each (changes relative to it). */
  throughputLessShift: Agreement;
  /**
   * The machine's shift as the yardstick measured it, apart from the figures: second ÷ first
   * of the two runs' yardstick medians, less 1, and the throughput medians with it divided
   * out. Undefined unless both runs timed the yardstick.
   */
  yardstick?: {
    first: number;
    second: number;
    /** Each run's yardstick median's own uncertainty over its stops (`medianError`), relative. */
    medianErrors: [number, number];
    shift: number;
    throughputLessShift: Agreement;
  };
  /**
   * Each run's slowest and fastest minute relative to its typical speed, read from its rounds
   * (`hostSpeedRange`); undefined for a run whose rounds carry no start times.
   */
  hostSpeed: [HostRange | undefined, HostRange | undefined];
  ratio: Agreement;
  memory: Agreement;
  /**
   * The medians the verdict judges: those of the throughput cases (concurrency above 1, the
   * issue's "64 (throughput)"), or every median when the runs measured concurrency 1 alone.
   * The latency cases (concurrency 1) are reported beside them, not judged: on a VM they time
   * vCPU wake-ups more than the cache.
   */
  judged: { concurrencies: number[]; agreement: Agreement };
  /** Figures present in one run only (a backend or case that was skipped or failed). */
  unmatched: string[];
  /** True when every judged throughput median and every memory figure agrees. */
  agrees: boolean;
}

/** The concurrencies whose medians the verdict judges: all above 1, or 1 when that is all there is. */
export function judgedConcurrencies(levels: readonly number[]): number[] {
  const throughput = levels.filter((c) => c > 1);
  return throughput.length > 0 ? throughput : [...levels];
}

function figure(
  label: string,
  kind: ComparedFigure['kind'],
  first: number,
  second: number,
  tolerance: number,
): ComparedFigure {
  const change = first > 0 ? second / first - 1 : second > 0 ? Number.POSITIVE_INFINITY : 0;
  return { label, kind, first, second, change, agrees: Math.abs(change) <= tolerance };
}

function agreement(figures: readonly ComparedFigure[]): Agreement {
  return {
    total: figures.length,
    within: figures.filter((f) => f.agrees).length,
    medianChange: figures.length === 0 ? 0 : median(figures.map((f) => Math.abs(f.change))),
    worst: figures.filter((f) => !f.agrees).sort((a, b) => Math.abs(b.change) - Math.abs(a.change)),
  };
}

/**
 * Compares two results files figure by figure: throughput medians of both sides of every
 * case, the Larder ÷ raw ratios, and memory per 1M keys of both sides.
 */
export function compareRuns(
  first: BenchResults,
  second: BenchResults,
  tolerances: Tolerances = DEFAULT_TOLERANCES,
): Comparison {
  const figures: ComparedFigure[] = [];
  const unmatched: string[] = [];
  for (const a of first.backends) {
    const b = second.backends.find((x) => x.name === a.name);
    if (b === undefined) {
      unmatched.push(`${a.name}: only in the first run`);
      continue;
    }
    for (const ca of a.cases) {
      const at = `${a.name} · ${ca.workload} · c=${ca.concurrency}`;
      const cb = b.cases.find((x) => x.workload === ca.workload && x.concurrency === ca.concurrency);
      if (cb === undefined) {
        unmatched.push(`${at}: only in the first run`);
        continue;
      }
      for (const side of ['larder', 'raw'] as const) {
        const compared = figure(
          `${at} · ${side}`,
          'throughput',
          ca[side].opsPerSec.median,
          cb[side].opsPerSec.median,
          tolerances.throughput,
        );
        figures.push({
          ...compared,
          concurrency: ca.concurrency,
          samples: samples(ca[side], cb[side], compared.change),
        });
      }
      figures.push(figure(`${at} · Larder÷raw`, 'ratio', ca.ratio, cb.ratio, tolerances.throughput));
    }
    for (const cb of b.cases) {
      if (!a.cases.some((x) => x.workload === cb.workload && x.concurrency === cb.concurrency)) {
        unmatched.push(`${a.name} · ${cb.workload} · c=${cb.concurrency}: only in the second run`);
      }
    }
    if (a.memory !== undefined && b.memory !== undefined) {
      for (const side of ['larder', 'raw'] as const) {
        figures.push(
          figure(
            `${a.name} · memory · ${side}`,
            'memory',
            a.memory[side].bytesPer1M,
            b.memory[side].bytesPer1M,
            tolerances.memory,
          ),
        );
      }
    } else if (a.memory !== undefined || b.memory !== undefined) {
      unmatched.push(`${a.name} · memory: only in one run`);
    }
  }
  for (const b of second.backends) {
    if (!first.backends.some((x) => x.name === b.name)) unmatched.push(`${b.name}: only in the second run`);
  }
  const of = (kind: ComparedFigure['kind']) => agreement(figures.filter((f) => f.kind === kind));
  const throughput = of('throughput');
  const memory = of('memory');
  const medians = figures.filter((f) => f.kind === 'throughput');
  const levels = [...new Set(medians.map((f) => f.concurrency!))].sort((x, y) => x - y);
  const concurrencies = judgedConcurrencies(levels);
  const judged = agreement(medians.filter((f) => concurrencies.includes(f.concurrency!)));
  const factors = medians.map((f) => 1 + f.change).filter(Number.isFinite);
  const machineShift = factors.length === 0 ? 0 : median(factors) - 1;
  const lessShift = (shift: number) =>
    agreement(
      medians.map((f) =>
        figure(f.label, 'throughput', f.first * (1 + shift), f.second, tolerances.throughput),
      ),
    );
  const [stickA, stickB] = [first.yardstick?.lookupsPerMs, second.yardstick?.lookupsPerMs];
  const yardstickShift =
    stickA !== undefined && stickB !== undefined && stickA > 0 ? stickB / stickA - 1 : undefined;
  return {
    tolerances,
    figures,
    throughput,
    throughputByConcurrency: levels.map((concurrency) => ({
      concurrency,
      agreement: agreement(medians.filter((f) => f.concurrency === concurrency)),
    })),
    machineShift,
    throughputLessShift: lessShift(machineShift),
    ...(yardstickShift === undefined
      ? {}
      : {
          yardstick: {
            first: stickA!,
            second: stickB!,
            medianErrors: [first, second].map((run) =>
              medianError((run.yardstick?.stops ?? []).map((stop) => stop.speed)),
            ) as [number, number],
            shift: yardstickShift,
            throughputLessShift: lessShift(yardstickShift),
          },
        }),
    hostSpeed: [
      hostSpeedRange(hostSpeedByMinute(first.backends)),
      hostSpeedRange(hostSpeedByMinute(second.backends)),
    ],
    ratio: of('ratio'),
    memory,
    judged: { concurrencies, agreement: judged },
    unmatched,
    agrees: judged.within === judged.total && memory.within === memory.total,
  };
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)} %`;
}

function signedPercent(change: number): string {
  return Number.isFinite(change) ? `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)} %` : 'new';
}

/**
 * The machine's part in the change: the shift every figure shares, the agreement with it taken
 * out, and each run's speed by minute.
 */
function machineLines(comparison: Comparison): string[] {
  const { machineShift, throughputLessShift: less, hostSpeed } = comparison;
  if (comparison.throughput.total === 0) return [];
  const pace = machineShift >= 0 ? 'faster' : 'slower';
  const lines = [
    `The machine: the second run was ${percent(Math.abs(machineShift))} ${pace} across the board ` +
      `(the median of second ÷ first over the ${comparison.throughput.total} ops/s medians); ` +
      `with that taken out of every figure, ${less.within} of ${less.total} within ` +
      `±${comparison.tolerances.throughput * 100} % (median change ${percent(less.medianChange)})`,
  ];
  const stick = comparison.yardstick;
  if (stick !== undefined) {
    const way = stick.shift >= 0 ? 'faster' : 'slower';
    lines.push(
      `  the yardstick (a fixed lookup job timed between the workload turns, apart from the figures): ` +
        `${Math.round(stick.first).toLocaleString('en-US')} then ${Math.round(stick.second).toLocaleString('en-US')} lookups/ms ` +
        `(median ±${stick.medianErrors.map(percent).join(' / ±')}), ` +
        `the second run ${percent(Math.abs(stick.shift))} ${way}; with that taken out, ` +
        `${stick.throughputLessShift.within} of ${stick.throughputLessShift.total} within ` +
        `±${comparison.tolerances.throughput * 100} % (median change ${percent(stick.throughputLessShift.medianChange)})`,
    );
  }
  const [a, b] = hostSpeed;
  if (a !== undefined || b !== undefined) {
    const range = (r: HostRange | undefined) =>
      r === undefined ? 'not recorded' : `${r.min.toFixed(2)}–${r.max.toFixed(2)}`;
    lines.push(
      `  its speed by minute, read from the rounds (each over its case's median): first run ${range(a)}, ` +
        `second ${range(b)} of typical`,
    );
  }
  return lines;
}

/** The last line: whether the judged figures agree, and what moved among those reported beside them. */
function verdict(comparison: Comparison): string {
  const { judged, memory, throughput, tolerances } = comparison;
  const at = judged.concurrencies.map((c) => `c=${c}`).join(', ');
  const judgedText =
    `${judged.agreement.within} of ${judged.agreement.total} throughput medians (${at}) within ` +
    `±${tolerances.throughput * 100} %, ${memory.within} of ${memory.total} memory figures within ` +
    `±${tolerances.memory * 100} %`;
  const latency = throughput.total - judged.agreement.total;
  const latencyWithin = throughput.within - judged.agreement.within;
  const latencyText =
    latency > 0
      ? `; ${latencyWithin} of ${latency} latency medians (c=1) within ±${tolerances.throughput * 100} % (reported, not judged)`
      : '';
  const verb = comparison.agrees ? 'agree' : 'do not agree';
  return `The runs ${verb} within the tolerances: ${judgedText}${latencyText}.`;
}

/** The comparison as text: one line per kind of figure, then every figure outside its tolerance. */
export function renderComparison(comparison: Comparison): string {
  const { tolerances } = comparison;
  const line = (name: string, a: Agreement, tolerance: number) =>
    `${name}: ${a.within} of ${a.total} within ±${tolerance * 100} % (median change ${percent(a.medianChange)})`;
  const moved = comparison.throughput.worst;
  const noise = moved.filter((f) => f.samples !== undefined && f.samples.sigmas < NOISE_SIGMAS).length;
  const judgedAt = comparison.judged.concurrencies;
  const role = (concurrency: number) =>
    judgedAt.includes(concurrency) ? 'throughput, judged' : 'latency, reported, not judged';
  const lines = [
    line('Ops/s medians', comparison.throughput, tolerances.throughput),
    ...(comparison.throughputByConcurrency.length > 1
      ? comparison.throughputByConcurrency.map(({ concurrency, agreement }) =>
          line(`  at c=${concurrency} (${role(concurrency)})`, agreement, tolerances.throughput),
        )
      : []),
    ...(moved.length > 0
      ? [
          `  of the ${moved.length} outside, ${noise} moved by less than ${NOISE_SIGMAS}σ (σ: both medians' ` +
            'uncertainty combined), within the noise each run measured of itself',
        ]
      : []),
    ...machineLines(comparison),
    line('Larder ÷ raw ratios', comparison.ratio, tolerances.throughput),
    line('Memory per 1M keys', comparison.memory, tolerances.memory),
  ];
  const outside = [...comparison.throughput.worst, ...comparison.memory.worst, ...comparison.ratio.worst];
  if (outside.length > 0) {
    const show = (f: ComparedFigure, value: number) =>
      f.kind === 'ratio' ? formatRatio(value) : Math.round(value).toLocaleString('en-US');
    lines.push(
      '',
      'Outside the tolerance:',
      textTable(
        [
          ['figure', 'first', 'second', 'change', 'less shift', 'rounds', 'median ±', 'σ'],
          ...outside.map((f) => [
            f.label,
            show(f, f.first),
            show(f, f.second),
            signedPercent(f.change),
            f.kind === 'throughput' ? signedPercent((1 + f.change) / (1 + comparison.machineShift) - 1) : '',
            f.samples === undefined ? '' : f.samples.rounds.join(' / '),
            f.samples === undefined ? '' : f.samples.medianErrors.map(percent).join(' / '),
            f.samples === undefined
              ? ''
              : Number.isFinite(f.samples.sigmas)
                ? `${f.samples.sigmas.toFixed(1)}σ`
                : '∞σ',
          ]),
        ],
        [false, true, true, true, true, true, true, true],
      ),
    );
  }
  if (comparison.unmatched.length > 0) {
    lines.push('', 'Not in both runs:', ...comparison.unmatched.map((u) => `  - ${u}`));
  }
  lines.push('', verdict(comparison));
  return lines.join('\n');
}
