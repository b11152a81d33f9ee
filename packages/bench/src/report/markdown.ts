import type { BenchResults } from '../types.js';
import { allTables, environmentLine, referenceTable, serverText, type Table } from './tables.js';

/** Escapes text for a Markdown table cell. */
export const escapeCell = (text: string): string =>
  text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');

function markdownTable(table: Table, level: string): string {
  const head = `| ${table.header.map(escapeCell).join(' | ')} |`;
  const rule = `|${table.numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`;
  const rows = table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`);
  const notes = table.notes.map((note) => `\n${note}`).join('\n');
  return `${level} ${table.title}\n\n${[head, rule, ...rows].join('\n')}\n${notes}`;
}

/** The whole run as Markdown: summary beside the seed's table, one table per backend, environment. */
export function renderMarkdown(results: BenchResults): string {
  const env = results.environment;
  const o = results.options;
  const [summary, ...backends] = allTables(results);
  const lines = [`# Larder bench, ${env.date}`, '', markdownTable(summary!, '##'), ''];
  lines.push(markdownTable(referenceTable(), '##'), '');
  if (backends.length > 0) lines.push('## Full results', '');
  for (const table of backends) lines.push(markdownTable(table, '###'), '');
  if (results.skipped.length > 0) {
    lines.push('## Skipped', '');
    for (const s of results.skipped) lines.push(`- **${s.name}**: ${s.reason} To enable it: ${s.fix}`);
    lines.push('');
  }
  const packages = Object.entries(env.packages).map(([n, v]) => `${n} ${v}`);
  lines.push(
    '## Environment',
    '',
    `- ${environmentLine(results)}`,
    `- Node ${env.node} (V8 ${env.v8}), ${env.os}`,
    ...results.backends.map(
      (b) => `- ${b.name}: ${serverText(b)} at ${b.server.address}; raw = ${b.rawClient}`,
    ),
    `- Options: ${o.quick ? 'quick, ' : ''}${o.peers ? 'peers, ' : ''}values ${o.valueSize} B, concurrency ${o.concurrency.join(', ')}, ` +
      `${o.rounds} rounds of ${o.durationMs} ms per side after ${o.warmupMs} ms of warm-up, ${o.keys} keys loaded, ` +
      `${o.memoryKeys} keys for memory, ${o.inFlight} in flight, faults of ${o.faultMs} ms, seed ${o.seed}`,
    `- Packages: ${packages.join(', ')}`,
    '',
  );
  return lines.join('\n');
}
