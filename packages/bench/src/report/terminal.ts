import { formatBytes, textTable } from '../format.js';
import type { BenchResults } from '../types.js';
import { allTables, summaryTable, type Table } from './tables.js';

function renderTable(table: Table): string {
  const body = textTable([table.header, ...table.rows], table.numeric);
  return [table.title, body, ...table.notes].join('\n');
}

/** The headline table alone, for the end of a run. */
export const renderSummary = (results: BenchResults): string => renderTable(summaryTable(results));

/** Every table as plain text, plus skipped servers and where the run happened. */
export function renderTerminal(results: BenchResults): string {
  const env = results.environment;
  const parts = allTables(results).map(renderTable);
  parts.push(
    results.skipped.map((s) => `Skipped ${s.name}: ${s.reason}\n  To enable it: ${s.fix}`).join('\n'),
  );
  parts.push(
    `${env.date} · Node ${env.node} · ${env.cpuModel} × ${env.cpuCores} · load ${env.loadAverage.map((l) => l.toFixed(2)).join(' ')} · ${formatBytes(env.totalMemoryBytes)} RAM · ${results.seconds.toFixed(0)} s`,
  );
  return parts.filter((p) => p !== '').join('\n\n');
}
