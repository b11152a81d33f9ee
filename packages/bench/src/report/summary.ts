import type { BackendName, BackendResult, BenchResults, CaseResult, Side } from '../types.js';

/** One row of the headline table, still in numbers. */
export interface SummaryRow {
  backend: BackendName;
  side: Side;
  /** "Larder" or the raw client ("ioredis GET/SET"). */
  label: string;
  getOpsPerSec: number | undefined;
  /** Larder ÷ raw get ops/s (Larder rows only). */
  getRatio: number | undefined;
  memoryPer1M: number | undefined;
  /** Larder ÷ raw bytes (Larder rows only). */
  memoryRatio: number | undefined;
  memoryExtrapolatedFrom: number | undefined;
  stability: string | undefined;
}

/** The concurrency the headline get figure is taken at: the highest one measured. */
export function headlineConcurrency(results: BenchResults): number {
  return Math.max(...results.options.concurrency);
}

/** The get-hit case at the headline concurrency, if it ran. */
export function headlineCase(backend: BackendResult, concurrency: number): CaseResult | undefined {
  return backend.cases.find((c) => c.workload === 'get-hit' && c.concurrency === concurrency);
}

/** Two rows per backend (Larder, then raw), in run order. */
export function summaryRows(results: BenchResults): SummaryRow[] {
  const concurrency = headlineConcurrency(results);
  const rows: SummaryRow[] = [];
  for (const backend of results.backends) {
    const get = headlineCase(backend, concurrency);
    const memory = backend.memory;
    for (const side of ['larder', 'raw'] as const) {
      rows.push({
        backend: backend.name,
        side,
        label: side === 'larder' ? 'Larder' : backend.rawClient,
        getOpsPerSec: get?.[side].opsPerSec.median,
        getRatio: side === 'larder' ? get?.ratio : undefined,
        memoryPer1M: memory?.[side].bytesPer1M,
        memoryRatio: side === 'larder' ? memory?.ratio : undefined,
        memoryExtrapolatedFrom: memory?.extrapolated ? memory.keys : undefined,
        stability: backend.stability?.[side].summary,
      });
    }
  }
  return rows;
}
