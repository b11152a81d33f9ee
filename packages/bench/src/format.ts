import type { Interval } from './types.js';

/** Operations per second with thousands separators and no decimals: 123,456. */
export const formatOps = (value: number): string => Math.round(value).toLocaleString('en-US');

/** A count in short form: 5000 → 5K, 1500000 → 1.5M, 950 → 950. */
export function formatCount(value: number): string {
  if (value >= 1e6) return `${trim(value / 1e6)}M`;
  if (value >= 1e3) return `${trim(value / 1e3)}K`;
  return String(Math.round(value));
}

const trim = (value: number) => (value >= 100 ? String(Math.round(value)) : String(Number(value.toFixed(1))));

/** Bytes in binary units: 512 B, 1.5 KiB, 112.3 MiB, 1.20 GiB. */
export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${sign}${Math.round(abs)} B`;
  if (abs < 2 ** 20) return `${sign}${(abs / 1024).toFixed(1)} KiB`;
  if (abs < 2 ** 30) return `${sign}${(abs / 2 ** 20).toFixed(1)} MiB`;
  return `${sign}${(abs / 2 ** 30).toFixed(2)} GiB`;
}

/** Milliseconds with precision that suits the size: 0.4 µs, 12 µs, 0.45 ms, 12.3 ms, 1234 ms. */
export function formatMs(ms: number): string {
  if (ms < 0.01) return `${(ms * 1000).toFixed(1)} µs`;
  if (ms < 0.1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** A duration in seconds with one decimal, or in whole ms below 0.1 s: 1.4 s, 0.4 s, 30 ms. */
export const formatSeconds = (ms: number): string =>
  ms < 100 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;

/** A ratio as 0.93×. */
export const formatRatio = (value: number): string => `${value.toFixed(2)}×`;

/** Whether an interval holds 1.0: the two sides cannot be told apart. */
export const spansOne = (interval: Interval): boolean => interval.low <= 1 && interval.high >= 1;

/** A ratio with its interval, "2.02× (1.85–2.20)"; one spanning 1.0 says so. */
export function formatInterval(interval: Interval): string {
  const text = `${formatRatio(interval.median)} (${interval.low.toFixed(2)}–${interval.high.toFixed(2)})`;
  return spansOne(interval) ? `${text} no measurable difference` : text;
}

/** Microseconds of CPU per operation: 3.2 µs, 41 µs. */
export const formatCpu = (us: number): string => (us < 10 ? `${us.toFixed(1)} µs` : `${Math.round(us)} µs`);

/** A padded text table: the first row is the header; numeric-looking columns align right. */
export function textTable(rows: readonly (readonly string[])[], rightAlign: readonly boolean[] = []): string {
  const widths: number[] = [];
  for (const row of rows)
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, width(cell));
  const pad = (cell: string, i: number) => {
    const space = ' '.repeat((widths[i] ?? 0) - width(cell));
    return rightAlign[i] ? space + cell : cell + space;
  };
  const line = (row: readonly string[]) => row.map(pad).join('  ').trimEnd();
  const [head, ...body] = rows;
  if (head === undefined) return '';
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [line(head), rule, ...body.map(line)].join('\n');
}

const width = (text: string): number => [...text].length;
