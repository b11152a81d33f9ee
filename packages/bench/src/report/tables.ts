import { formatBytes, formatCount, formatMs, formatOps, formatRatio, formatSeconds } from '../format.js';
import { WORKLOADS } from '../scenarios/index.js';
import {
  type BackendResult,
  type BenchResults,
  backendTiming,
  type CaseResult,
  type SideResult,
} from '../types.js';
import { headlineConcurrency, type SummaryRow, summaryRows } from './summary.js';

/** A table as header + rows of cell text, with which columns hold numbers. */
export interface Table {
  title: string;
  header: string[];
  rows: string[][];
  numeric: boolean[];
  notes: string[];
}

/** The headline table: Backend | Get ops/s | Memory 1M keys | Stability, Larder and raw rows. */
export function summaryTable(results: BenchResults): Table {
  const concurrency = headlineConcurrency(results);
  const rows = summaryRows(results);
  const notes: string[] = [];
  const extrapolated = rows.find((r) => r.memoryExtrapolatedFrom !== undefined)?.memoryExtrapolatedFrom;
  if (extrapolated !== undefined) {
    notes.push(`* memory extrapolated from ${formatCount(extrapolated)} keys to 1M`);
  }
  return {
    title: 'Summary',
    header: ['Backend', `Get ops/s (c=${concurrency})`, 'Memory 1M keys', 'Stability'],
    rows: rows.map((row) => [backendCell(row), getCell(row), memoryCell(row), row.stability ?? 'not run']),
    numeric: [false, true, true, false],
    notes,
  };
}

function backendCell(row: SummaryRow): string {
  return `${row.backend} · ${row.label}`;
}

function getCell(row: SummaryRow): string {
  if (row.getOpsPerSec === undefined) return 'not run';
  const ratio = row.getRatio === undefined ? '' : ` (${formatRatio(row.getRatio)} raw)`;
  return `${formatOps(row.getOpsPerSec)}${ratio}`;
}

function memoryCell(row: SummaryRow): string {
  if (row.memoryPer1M === undefined) return 'not run';
  const ratio = row.memoryRatio === undefined ? '' : ` (${formatRatio(row.memoryRatio)} raw)`;
  return `${formatBytes(row.memoryPer1M)}${row.memoryExtrapolatedFrom !== undefined ? '*' : ''}${ratio}`;
}

function opsCell(side: SideResult): string {
  const { median, min, max } = side.opsPerSec;
  return `${formatOps(median)} [${formatOps(min)}–${formatOps(max)}]`;
}

function latencyCell(side: SideResult): string {
  return `${formatMs(side.p50Ms)} / ${formatMs(side.p99Ms)}`;
}

function caseNotes(c: CaseResult, baseRounds: number): string {
  const notes: string[] = [];
  if (c.busy) notes.push(`busy machine (${c.otherCpuCores.toFixed(2)} cores of other load)`);
  const rounds = c.larder.rounds.length;
  const error = Math.max(c.larder.medianError, c.raw.medianError);
  // Results written before the speed gauge have no slowRounds.
  const slow = Math.max(c.larder.slowRounds ?? 0, c.raw.slowRounds ?? 0);
  if (rounds > baseRounds || slow > 0) {
    const left = slow > 0 ? `, ${slow} on a slowed machine left out` : '';
    notes.push(`${rounds} rounds${left} (median ±${(error * 100).toFixed(1)} %)`);
  }
  for (const side of ['larder', 'raw'] as const) {
    if (c[side].errors > 0) notes.push(`${side}: ${c[side].errors} errors`);
    if (c[side].failed > 0) notes.push(`${side}: ${c[side].failed} failed ops (not in ops/s)`);
  }
  return notes.join('; ');
}

/** The full table of one backend: every workload × concurrency, Larder beside raw. */
export function backendTable(backend: BackendResult, baseRounds: number): Table {
  const rows = backend.cases.map((c) => [
    WORKLOADS[c.workload].title,
    String(c.concurrency),
    opsCell(c.larder),
    opsCell(c.raw),
    formatRatio(c.ratio),
    latencyCell(c.larder),
    latencyCell(c.raw),
    caseNotes(c, baseRounds),
  ]);
  for (const f of backend.failures) {
    rows.push([WORKLOADS[f.workload].title, String(f.concurrency), 'failed', '', '', '', '', f.error]);
  }
  const notes: string[] = [];
  const memory = backend.memory;
  if (memory !== undefined) {
    notes.push(
      `Memory (${formatCount(memory.keys)} keys${memory.extrapolated ? ', extrapolated to 1M' : ''}): Larder ${formatBytes(memory.larder.bytesPer1M)} per 1M keys ` +
        `(${memory.larder.bytesPerKey.toFixed(1)} B/key; ${memory.method}), raw ${formatBytes(memory.raw.bytesPer1M)} ` +
        `(${memory.raw.bytesPerKey.toFixed(1)} B/key; ${memory.rawMethod}); ratio ${formatRatio(memory.ratio)}.`,
    );
  } else if (backend.memoryError !== undefined) {
    notes.push(`Memory: failed: ${backend.memoryError}`);
  }
  const stability = backend.stability;
  if (stability !== undefined) {
    for (const side of ['larder', 'raw'] as const) {
      const s = stability[side];
      const who = side === 'larder' ? 'Larder' : backend.rawClient;
      notes.push(
        `Stability, ${who}: ${s.burst.inFlight} in flight → ${s.burst.errors} errors, p99 ${formatMs(s.burst.p99Ms)}, max ${formatMs(s.burst.maxMs)}.` +
          s.faults
            .map(
              (f) =>
                ` ${f.fault === 'kill' ? 'Killed' : 'SIGSTOPped'} for ${formatSeconds(f.downMs)}: ${f.ops} ops, ${f.errorsSurfaced} errors surfaced, ` +
                `${f.overDeadline} over deadline+50 ms, ${f.hung} hung, p99 ${formatMs(f.p99Ms)}, max ${formatMs(f.maxMs)}, ` +
                (f.recovered
                  ? `recovered ${formatSeconds(f.recoveryMs)} after ${f.fault === 'kill' ? 'restart' : 'SIGCONT'}.`
                  : `no recovery within ${formatSeconds(f.recoveryMs)}.`),
            )
            .join('') +
          (s.faultsSkipped ? ` Faults not injected: ${s.faultsSkipped}.` : ''),
      );
    }
  } else if (backend.stabilityError !== undefined) {
    notes.push(`Stability: failed: ${backend.stabilityError}`);
  }
  return {
    title: `${backend.name} (${backend.server.source === 'embedded' ? 'embedded' : `${backend.server.source} server ${backend.server.version}`}; raw = ${backend.rawClient})`,
    header: [
      'Workload',
      'C',
      'Larder ops/s median [min–max]',
      'raw ops/s median [min–max]',
      'Larder÷raw',
      'Larder p50 / p99',
      'raw p50 / p99',
      'Notes',
    ],
    rows,
    numeric: [false, true, true, true, true, true, true, false],
    notes,
  };
}

/** Every table of a run, summary first. */
export function allTables(results: BenchResults): Table[] {
  const baseRounds = (b: BackendResult) =>
    backendTiming(results.options, b.server.source === 'embedded').rounds;
  return [summaryTable(results), ...results.backends.map((b) => backendTable(b, baseRounds(b)))];
}
