import { formatBytes, formatOps } from '../format.js';
import type { BenchResults } from '../types.js';
import { headlineConcurrency, type SummaryRow, summaryRows } from './summary.js';

/** Escapes text for SVG content and attributes. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const COLORS = { larder: '#2f6fdf', raw: '#a3a9b3' } as const;
const LABEL_WIDTH = 100;
const BAR_WIDTH = 250;
const VALUE_WIDTH = 110;
const PANEL_WIDTH = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH;
const BAR_HEIGHT = 14;
const GROUP_HEIGHT = 2 * BAR_HEIGHT + 14;
const TOP = 64;

interface Panel {
  title: string;
  value: (row: SummaryRow) => number | undefined;
  format: (value: number) => string;
}

function panel(x: number, spec: Panel, groups: SummaryRow[][]): string {
  const values = groups
    .flat()
    .map(spec.value)
    .filter((v): v is number => v !== undefined && v > 0);
  const max = values.length > 0 ? Math.max(...values) : 1;
  const out: string[] = [`<text x="${x}" y="${TOP - 16}" class="title">${escapeXml(spec.title)}</text>`];
  groups.forEach((group, g) => {
    const y0 = TOP + g * GROUP_HEIGHT;
    const name = group[0]?.backend ?? '';
    out.push(`<text x="${x}" y="${y0 + BAR_HEIGHT + 4}" class="label">${escapeXml(name)}</text>`);
    group.forEach((row, i) => {
      const y = y0 + i * BAR_HEIGHT;
      const value = spec.value(row);
      const bx = x + LABEL_WIDTH;
      if (value === undefined) {
        out.push(`<text x="${bx}" y="${y + BAR_HEIGHT - 3}" class="value">not run</text>`);
        return;
      }
      const width = Math.max(1, (Math.max(0, value) / max) * BAR_WIDTH);
      out.push(
        `<rect x="${bx}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT - 2}" fill="${COLORS[row.side]}"><title>${escapeXml(`${row.backend} ${row.label}: ${spec.format(value)}`)}</title></rect>`,
        `<text x="${(bx + width + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 3}" class="value">${escapeXml(spec.format(value))}</text>`,
      );
    });
  });
  return out.join('\n');
}

/**
 * The chart: get ops/s and memory per 1M keys for each backend, Larder beside raw, as plain
 * SVG text (no chart library).
 */
export function renderSvg(results: BenchResults): string {
  const rows = summaryRows(results);
  const groups: SummaryRow[][] = [];
  for (const row of rows) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[0]?.backend === row.backend) last.push(row);
    else groups.push([row]);
  }
  const concurrency = headlineConcurrency(results);
  const width = 2 * PANEL_WIDTH + 60;
  const height = TOP + Math.max(1, groups.length) * GROUP_HEIGHT + 40;
  const legendY = height - 16;
  const env = results.environment;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:600}.label{font-size:12px}.value{font-size:11px;fill:#333}.small{font-size:10px;fill:#666}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="20" y="20" class="small">${escapeXml(`Larder bench ${env.date} · Node ${env.node} · ${env.cpuModel} × ${env.cpuCores}`)}</text>`,
    panel(
      20,
      { title: `get ops/s (hit, c=${concurrency})`, value: (r) => r.getOpsPerSec, format: formatOps },
      groups,
    ),
    panel(
      40 + PANEL_WIDTH,
      { title: 'memory per 1M keys', value: (r) => r.memoryPer1M, format: formatBytes },
      groups,
    ),
    `<rect x="20" y="${legendY - 10}" width="12" height="12" fill="${COLORS.larder}"/>`,
    `<text x="38" y="${legendY}" class="label">Larder</text>`,
    `<rect x="100" y="${legendY - 10}" width="12" height="12" fill="${COLORS.raw}"/>`,
    `<text x="118" y="${legendY}" class="label">raw client</text>`,
    '</svg>',
    '',
  ].join('\n');
}
