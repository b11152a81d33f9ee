import {
  formatBytes,
  formatCount,
  formatCpu,
  formatInterval,
  formatMs,
  formatOps,
  formatRatio,
  formatSeconds,
} from '../format.js';
import type { BackendResult, BenchResults, CaseResult, Side } from '../types.js';
import { WORKLOADS } from '../workloads/index.js';

/** A table as header + rows of cell text, with which columns hold numbers. */
export interface Table {
  title: string;
  header: string[];
  rows: string[][];
  numeric: boolean[];
  notes: string[];
}

/** The concurrency the headline get figure is taken at: the highest one measured. */
export function headlineConcurrency(results: BenchResults): number {
  return Math.max(...results.options.concurrency);
}

/** The get-hit case at the headline concurrency, if it ran. */
export function headlineCase(backend: BackendResult, concurrency: number): CaseResult | undefined {
  return backend.cases.find((c) => c.workload === 'get-hit' && c.concurrency === concurrency);
}

/** The sides of a case in print order: Larder, raw, then the peers. */
function sidesOf(c: CaseResult): Side[] {
  const rest = (Object.keys(c.sides) as Side[]).filter((s) => s !== 'larder' && s !== 'raw');
  return (['larder', 'raw', ...rest] as Side[]).filter((s) => c.sides[s] !== undefined);
}

/**
 * The headline table in the seed's shape (Backend | Get ops/s | Memory 1M keys | Production
 * Stability), a Larder row and a raw row per backend (and a row per peer), led by the get
 * ratio to raw with its 95 % interval.
 */
export function summaryTable(results: BenchResults): Table {
  const concurrency = headlineConcurrency(results);
  const rows: string[][] = [];
  for (const b of results.backends) {
    const get = headlineCase(b, concurrency);
    const sides: Side[] = get === undefined ? ['larder', 'raw'] : sidesOf(get);
    for (const side of sides) {
      const ratio = get?.ratios[side];
      const memory = side === 'larder' || side === 'raw' ? b.memory?.[side] : undefined;
      const memoryRatio = side === 'larder' && b.memory ? ` (${formatRatio(b.memory.ratio)} raw)` : '';
      const stability = side === 'larder' || side === 'raw' ? b.stability?.[side].summary : undefined;
      rows.push([
        `${b.name} · ${get?.sides[side]?.label ?? (side === 'raw' ? b.rawClient : 'Larder')}`,
        side === 'raw' ? '1 (the baseline)' : ratio ? formatInterval(ratio.ops) : 'not run',
        get?.sides[side] ? formatOps(get.sides[side].opsPerSec) : 'not run',
        memory ? `${formatBytes(memory.bytesPer1M)}${memoryRatio}` : side === 'larder' || side === 'raw' ? 'not run' : '',
        stability ?? (side === 'larder' || side === 'raw' ? 'not run' : ''),
      ]);
    }
  }
  const notes = [
    `Get: get-hit at c=${concurrency}. ÷ raw: median of per-round ratios (95 % interval); above 1, faster than the raw client.`,
  ];
  const memory = results.backends.find((b) => b.memory?.extrapolated)?.memory;
  if (memory) notes.push(`Memory measured with ${formatCount(memory.keys)} keys, given per 1M.`);
  return {
    title: 'Summary',
    header: ['Backend', 'Get ÷ raw (95 % CI)', 'Get ops/s', 'Memory 1M keys', 'Production Stability'],
    rows,
    numeric: [false, true, true, true, false],
    notes,
  };
}

/** The table that motivated Larder, as published: another machine, another stack. */
export function referenceTable(): Table {
  return {
    title: 'Reference: the seed table (another machine; Django + Python, not this run)',
    header: ['Backend', 'Get ops/s', 'Memory 1M keys', 'Production Stability'],
    rows: [
      ['django-redis', '58,000', '165 MB', 'Excellent'],
      ['Django native', '52,000', '180 MB', 'Good'],
      ['Database cache', '1,800', '~2 GB', 'Poor, fails at 5K ops'],
    ],
    numeric: [false, true, true, false],
    notes: [],
  };
}

function caseNotes(c: CaseResult, side: Side): string {
  const s = c.sides[side]!;
  const notes: string[] = [];
  if (s.errors > 0) notes.push(`${s.errors} errors`);
  if (s.failed > 0) notes.push(`${s.failed} failed ops (not in ops/s)`);
  const cov = c.ratios[side]?.ops.coverage;
  if (cov !== undefined && cov < 0.95) notes.push(`interval covers ${(cov * 100).toFixed(0)} % (few rounds)`);
  return notes.join('; ');
}

function memoryNote(b: BackendResult): string[] {
  const m = b.memory;
  if (m === undefined) return b.memoryError ? [`Memory: failed: ${b.memoryError}`] : [];
  return [
    `Memory (${formatCount(m.keys)} keys${m.extrapolated ? ', given per 1M' : ''}): Larder ${formatBytes(m.larder.bytesPer1M)} per 1M keys ` +
      `(${m.larder.bytesPerKey.toFixed(1)} B/key; ${m.method}), raw ${formatBytes(m.raw.bytesPer1M)} ` +
      `(${m.raw.bytesPerKey.toFixed(1)} B/key; ${m.rawMethod}); ratio ${formatRatio(m.ratio)}.`,
  ];
}

function stabilityNotes(b: BackendResult): string[] {
  if (b.stability === undefined) return b.stabilityError ? [`Stability: failed: ${b.stabilityError}`] : [];
  return (['larder', 'raw'] as const).map((side) => {
    const s = b.stability![side];
    const faults = s.faults.map(
      (f) =>
        ` ${f.fault === 'kill' ? 'Killed' : 'SIGSTOPped'} for ${formatSeconds(f.downMs)}: ${f.ops} ops, ${f.errorsSurfaced} errors surfaced, ` +
        `${f.overDeadline} over deadline+50 ms, ${f.hung} hung, p99 ${formatMs(f.p99Ms)}, max ${formatMs(f.maxMs)}, ` +
        (f.recovered ? `recovered ${formatSeconds(f.recoveryMs)} after.` : `no recovery within ${formatSeconds(f.recoveryMs)}.`),
    );
    return (
      `Stability, ${side === 'larder' ? 'Larder' : b.rawClient}: ${s.burst.inFlight} in flight → ${s.burst.errors} errors, ` +
      `p99 ${formatMs(s.burst.p99Ms)}, max ${formatMs(s.burst.maxMs)}.${faults.join('')}` +
      (s.faultsSkipped ? ` Faults not injected: ${s.faultsSkipped}.` : '')
    );
  });
}

/** The full table of one backend: every workload × concurrency, a row per side. */
export function backendTable(b: BackendResult): Table {
  const rows: string[][] = [];
  for (const c of b.cases) {
    for (const side of sidesOf(c)) {
      const s = c.sides[side]!;
      const r = c.ratios[side];
      rows.push([
        WORKLOADS[c.workload].title,
        String(c.concurrency),
        side === 'larder' || side === 'raw' ? side : s.label,
        formatOps(s.opsPerSec),
        r ? formatInterval(r.ops) : '',
        formatCpu(s.cpuUsPerOp),
        r ? formatInterval(r.cpu) : '',
        `${formatMs(s.p50Ms)} / ${formatMs(s.p99Ms)}`,
        caseNotes(c, side),
      ]);
    }
  }
  for (const f of b.failures) {
    rows.push([WORKLOADS[f.workload].title, String(f.concurrency), 'failed', '', '', '', '', '', f.error]);
  }
  const source = b.server.source === 'embedded' ? 'embedded' : `${b.server.source} server ${b.server.version}`;
  return {
    title: `${b.name} (${source}; raw = ${b.rawClient})`,
    header: ['Workload', 'C', 'Side', 'ops/s', 'ops ÷ raw (95 % CI)', 'CPU/op', 'CPU ÷ raw (95 % CI)', 'p50 / p99', 'Notes'],
    rows,
    numeric: [false, true, false, true, true, true, true, true, false],
    notes: [...memoryNote(b), ...stabilityNotes(b)],
  };
}

/** Every table of a run, summary first. */
export function allTables(results: BenchResults): Table[] {
  return [summaryTable(results), ...results.backends.map(backendTable)];
}
