import { textTable } from '../format.js';
import type { BenchResults } from '../types.js';
import { allTables, environmentLine, summaryTable, type Table } from './tables.js';

const renderTable = (table: Table): string =>
  [table.title, textTable([table.header, ...table.rows], table.numeric), ...table.notes].join('\n');

/** The headline table alone. */
export const renderSummary = (results: BenchResults): string => renderTable(summaryTable(results));

/** Every table as plain text, plus skipped servers and where the run happened. */
export function renderTerminal(results: BenchResults): string {
  const skipped = results.skipped.map((s) => `Skipped ${s.name}: ${s.reason}\n  To enable it: ${s.fix}`);
  const parts = [...allTables(results).map(renderTable), skipped.join('\n'), environmentLine(results)];
  return parts.filter((p) => p !== '').join('\n\n');
}
