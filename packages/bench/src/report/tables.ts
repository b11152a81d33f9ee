import {
  formatBytes,
  formatCount,
  formatCpu,
  formatInterval,
  formatMs,
  formatOps,
  formatRatio,
} from '../format.js';
import type { BackendResult, BenchResults, CaseResult, Side } from '../types.js';
import { WORKLOADS } from '../workloads/index.js';

/** A table as header + rows of cell text, with which columns hold numbers. */
export type Table = {
  title: string;
  header: string[];
  rows: string[][];
  numeric: boolean[];
  notes: string[];
};

/** The sides of a case in print order: Larder, raw, then the peers. */
function sidesOf(c: CaseResult): Side[] {
  const rest = (Object.keys(c.sides) as Side[]).filter((s) => s !== 'larder' && s !== 'raw');
  return (['larder', 'raw', ...rest] as Side[]).filter((s) => c.sides[s] !== undefined);
}

/**
 * The headline table in the seed's shape (Backend | Get ops/s | Memory 1M keys | Production
 * Stability), a Larder and a raw row per backend (and one per peer), led by the get ratio to raw.
 */
export function summaryTable(results: BenchResults): Table {
  const concurrency = Math.max(...results.options.concurrency);
  const rows: string[][] = [];
  for (const b of results.backends) {
    const get = b.cases.find((c) => c.workload === 'get-hit' && c.concurrency === concurrency);
    const sides = get ? sidesOf(get) : (['larder', 'raw'] as const);
    const rowsOf = sides.map((s): [CaseResult | undefined, Side] => [get, s]);
    // Variants measured on another workload (the L1 on get-hot) get a row too, named with it.
    for (const c of b.cases.filter((c) => c !== get && c.concurrency === concurrency))
      for (const s of sidesOf(c)) if (s.startsWith('larder-')) rowsOf.push([c, s]);
    for (const [c, side] of rowsOf) {
      const ours = side === 'larder' || side === 'raw';
      const [s, ratio, memory] = [c?.sides[side], c?.ratios[side], ours ? b.memory?.[side] : undefined];
      const name = s?.label ?? (side === 'raw' ? b.rawClient : 'Larder');
      const other = c && c !== get ? ` on ${WORKLOADS[c.workload].title}` : '';
      const vsLarder = ratio?.vsLarder ? `; ÷ Larder ${formatInterval(ratio.vsLarder)}` : '';
      const vsRaw = side === 'larder' && b.memory ? ` (${formatRatio(b.memory.ratio)} raw)` : '';
      rows.push([
        `${b.name} · ${name}${other}${s?.note ? `, ${s.note}` : ''}`,
        side === 'raw' ? '1 (the baseline)' : ratio ? formatInterval(ratio.ops) + vsLarder : 'not run',
        s ? formatOps(s.opsPerSec) : 'not run',
        memory ? `${formatBytes(memory.bytesPer1M)}${vsRaw}` : ours ? 'not run' : '',
        ours ? (b.stability?.[side].summary ?? 'not run') : '',
      ]);
    }
  }
  const notes = [
    `Get: get-hit at c=${concurrency}. ÷ raw: median of per-round ratios (95 % interval); above 1, faster than the raw client.`,
  ];
  const memory = results.backends.find((b) => b.memory?.extrapolated)?.memory;
  if (memory) notes.push(`Memory measured with ${formatCount(memory.keys)} keys, given per 1M.`);
  const header = ['Backend', 'Get ÷ raw (95 % CI)', 'Get ops/s', 'Memory 1M keys', 'Production Stability'];
  return { title: 'Summary', header, rows, numeric: [false, true, true, true, false], notes };
}

/** The table that motivated Larder, as published: another machine, another stack. */
export const referenceTable = (): Table => ({
  title: 'Reference: the seed table (another machine; Django + Python, not this run)',
  header: ['Backend', 'Get ops/s', 'Memory 1M keys', 'Production Stability'],
  rows: [
    ['django-redis', '58,000', '165 MB', 'Excellent'],
    ['Django native', '52,000', '180 MB', 'Good'],
    ['Database cache', '1,800', '~2 GB', 'Poor, fails at 5K ops'],
  ],
  numeric: [false, true, true, false],
  notes: [],
});

function caseNotes(c: CaseResult, side: Side): string {
  const s = c.sides[side]!;
  const coverage = c.ratios[side]?.ops.coverage ?? 1;
  const vsLarder = c.ratios[side]?.vsLarder;
  const notes = [
    vsLarder ? `÷ Larder ${formatInterval(vsLarder)}` : '',
    s.note ?? '',
    s.errors > 0 ? `${s.errors} errors` : '',
    s.failed > 0 ? `${s.failed} failed ops (not in ops/s)` : '',
    coverage < 0.95 ? `interval covers ${(coverage * 100).toFixed(0)} % (few rounds)` : '',
  ];
  return notes.filter(Boolean).join('; ');
}

/** Memory and stability of a backend, one line each, below its table. */
function backendNotes(b: BackendResult): string[] {
  const m = b.memory;
  const notes: string[] = [];
  if (b.memoryError) notes.push(`Memory: failed: ${b.memoryError}`);
  if (m) {
    const [larder, raw] = [formatBytes(m.larder.bytesPer1M), formatBytes(m.raw.bytesPer1M)];
    notes.push(
      `Memory (${formatCount(m.keys)} keys, per 1M): Larder ${larder}, raw ${raw} (${m.method}); ${formatRatio(m.ratio)}.`,
    );
  }
  if (b.stabilityError) notes.push(`Stability: failed: ${b.stabilityError}`);
  for (const side of b.stability ? (['larder', 'raw'] as const) : []) {
    const s = b.stability![side];
    const faults = s.faults.map(
      (f) =>
        ` ${f.fault === 'kill' ? 'Kill' : 'SIGSTOP'}: ${f.ops} ops, ${f.errorsSurfaced} errors surfaced, ${f.overDeadline} over deadline + 50 ms, ${f.hung} hung, max ${formatMs(f.maxMs)}.`,
    );
    const skipped = s.faultsSkipped ? ` Faults not injected: ${s.faultsSkipped}.` : '';
    const who = side === 'larder' ? 'Larder' : b.rawClient;
    notes.push(`Stability, ${who}: ${s.summary}.${faults.join('')}${skipped}`);
  }
  return notes;
}

/** The full table of one backend: every workload × concurrency, a row per side. */
export function backendTable(b: BackendResult): Table {
  const rows = b.cases.flatMap((c) =>
    sidesOf(c).map((side) => {
      const s = c.sides[side]!;
      const r = c.ratios[side];
      return [
        WORKLOADS[c.workload].title,
        String(c.concurrency),
        side === 'larder' || side === 'raw' ? side : s.label,
        formatOps(s.opsPerSec),
        r ? formatInterval(r.ops) : '',
        formatCpu(s.cpuUsPerOp),
        r ? formatInterval(r.cpu) : '',
        `${formatMs(s.p50Ms)} / ${formatMs(s.p99Ms)}`,
        caseNotes(c, side),
      ];
    }),
  );
  for (const f of b.failures)
    rows.push([WORKLOADS[f.workload].title, String(f.concurrency), 'failed', '', '', '', '', '', f.error]);
  const header = ['Workload', 'C', 'Side', 'ops/s', 'ops ÷ raw (95 % CI)', 'CPU/op', 'CPU ÷ raw (95 % CI)'];
  return {
    title: `${b.name} (${serverText(b)}; raw = ${b.rawClient})`,
    header: [...header, 'p50 / p99', 'Notes'],
    rows,
    numeric: [false, true, false, true, true, true, true, true, false],
    notes: backendNotes(b),
  };
}

/** Where a backend's server came from: "embedded", or "local server 7.2.4". */
export const serverText = (b: BackendResult): string =>
  b.server.source === 'embedded' ? 'embedded' : `${b.server.source} server ${b.server.version}`;

/** Where the run happened, in one line: date, Node, CPU, load, RAM, wall time. */
export function environmentLine({ environment: env, seconds }: BenchResults): string {
  const load = env.loadAverage.map((l) => l.toFixed(2)).join(' ');
  return `${env.date} · Node ${env.node} · ${env.cpuModel} × ${env.cpuCores} · load ${load} · ${formatBytes(env.totalMemoryBytes)} RAM · ${seconds.toFixed(0)} s`;
}

/** Every table of a run, summary first. */
export const allTables = (results: BenchResults): Table[] => [
  summaryTable(results),
  ...results.backends.map(backendTable),
];
