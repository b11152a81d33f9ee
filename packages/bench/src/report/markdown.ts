import { formatBytes } from '../format.js';
import { FULL_SPEED } from '../speed-gauge.js';
import { MEDIAN_ERROR_TARGET } from '../stats.js';
import { type BenchOptions, type BenchResults, backendTiming, processShare } from '../types.js';
import { allTables, type Table } from './tables.js';

/** Escapes text for a Markdown table cell. */
export function escapeCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function markdownTable(table: Table, level: string): string {
  const head = `| ${table.header.map(escapeCell).join(' | ')} |`;
  const rule = `|${table.numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`;
  const rows = table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`);
  const notes = table.notes.map((note) => `\n${note.replace(/^\*/, '\\*')}`).join('\n');
  return `${level} ${table.title}\n\n${[head, rule, ...rows].join('\n')}\n${notes}`;
}

/**
 * "5 rounds", or with several workload processes "6 rounds, 3 in each of 2 fresh processes",
 * then "(up to 10 where a median was uncertain by more than 4 %)" when top-ups were allowed,
 * then what the embedded backends got when they weighed more.
 */
export function roundsText(o: BenchOptions): string {
  // Results written before maxRounds or processes existed have none.
  const processes = o.processes ?? 1;
  const share = processShare(o.rounds, processes);
  const rounds = share * processes;
  const topUps = Math.max(0, Math.floor(((o.maxRounds ?? o.rounds) - rounds) / share));
  const max = rounds + topUps * share;
  const where = processes > 1 ? `, ${share} in each of ${processes} fresh processes` : '';
  const text =
    topUps > 0
      ? `${rounds} rounds${where} (up to ${max} where a median was uncertain by more than ${MEDIAN_ERROR_TARGET * 100} %)`
      : `${rounds} rounds${where}`;
  // Results written before embeddedWeight existed have none.
  const weight = o.embeddedWeight ?? 1;
  if (weight === 1) return text;
  const embedded = backendTiming(o, true);
  return `${text}; the embedded backends ${embedded.rounds} rounds in ${embedded.processes} processes (up to ${embedded.maxRounds}), ${weight} turns for each of a server's`;
}

/** The whole run as Markdown: summary, one table per backend, skipped servers, environment. */
export function renderMarkdown(results: BenchResults): string {
  const env = results.environment;
  const o = results.options;
  const [summary, ...backends] = allTables(results);
  const lines: string[] = [`# Larder bench, ${env.date}`, ''];
  if (summary !== undefined) lines.push(markdownTable(summary, '##'), '');
  if (backends.length > 0) lines.push('## Full results', '');
  for (const table of backends) lines.push(markdownTable(table, '###'), '');
  if (results.skipped.length > 0) {
    lines.push('## Skipped servers', '');
    for (const s of results.skipped) lines.push(`- **${s.name}**: ${s.reason} To enable it: ${s.fix}`);
    lines.push('');
  }
  if (results.notes.length > 0) {
    lines.push('## Notes', '', ...results.notes.map((n) => `- ${n}`), '');
  }
  lines.push(
    '## Environment',
    '',
    `- Node ${env.node} (V8 ${env.v8}), ${env.os}`,
    `- CPU: ${env.cpuModel}, ${env.cpuCores} cores; ${formatBytes(env.totalMemoryBytes)} RAM; load average at start ${env.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
    ...results.backends.map(
      (b) =>
        `- ${b.name}: ${b.server.source === 'embedded' ? 'embedded' : `${b.server.source} server ${b.server.version} at ${b.server.address}`}; raw = ${b.rawClient}`,
    ),
    `- Options: ${o.quick ? 'quick, ' : ''}values ${o.valueSize} B, concurrency ${o.concurrency.join(', ')}, ` +
      `${roundsText(o)} of ${o.durationMs} ms (one pass over the backend's cases per round, the backends taking turns pass by pass, after an untimed warm-up pass in each process; ${o.warmupMs} ms warm-up per side before each round), ${o.keys} keys loaded, ` +
      `${o.memoryKeys} keys for memory, ${o.inFlight} in flight, faults of ${o.faultMs} ms, seed ${o.seed}`,
    `- Packages: ${Object.entries(env.packages)
      .map(([n, v]) => `${n} ${v}`)
      .join(', ')}`,
    ...(results.speedGauge === undefined
      ? []
      : [
          `- Speed gauge (random lookups in a Map of 200,000 keys, one probe per CPU): best (90th percentile) ${results.speedGauge.best.map((b) => Math.round(b).toLocaleString('en-US')).join(' / ')} lookups/ms ${gaugeCpus(results.speedGauge.cpus)}; rounds timed while a CPU read below ${FULL_SPEED * 100} % of its best are left out of medians; waited ${results.speedGauge.waitedSeconds.toFixed(0)} s for full speed (up to ${(o.speedWaitMs ?? 0) / 1000} s per pass)`,
        ]),
    ...(results.yardstick === undefined
      ? []
      : [
          `- Yardstick (the gauge's lookup job, timed between the workload turns while everything else sat idle): median ${Math.round(results.yardstick.lookupsPerMs).toLocaleString('en-US')} lookups/ms over ${results.yardstick.stops.length} stops; \`--compare\` gives its change between two runs beside the figures' own shared shift`,
        ]),
    `- Wall time: ${results.seconds.toFixed(0)} s`,
    '',
  );
  return lines.join('\n');
}

/** Where the gauge's probes ran: 'on CPUs 0, 1', or 'in one unpinned process'. */
function gaugeCpus(cpus: readonly string[]): string {
  if (cpus.length === 1 && cpus[0] === 'any') return 'in one unpinned process';
  return `on CPU${cpus.length === 1 ? '' : 's'} ${cpus.join(', ')}`;
}
