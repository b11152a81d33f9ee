import { formatInterval, textTable } from './format.js';
import { disjoint } from './stats.js';
import type { BenchResults, Side } from './types.js';

/** What `--compare` found: every ratio both runs measured ("redis get-hit c=64 larder ops"), and whether any moved. */
export type Comparison = ReturnType<typeof compareRuns>;

/**
 * Compares two runs ratio by ratio (each side ÷ raw, ops/s and CPU per op): a ratio moved
 * when its two 95 % intervals do not overlap. Absolute ops/s are not judged: on a shared
 * machine they move with the host, while a ratio measured back to back within one run does not.
 */
export function compareRuns(a: BenchResults, b: BenchResults) {
  const ratios = [];
  for (const ba of a.backends) {
    const bb = b.backends.find((x) => x.name === ba.name);
    if (bb === undefined) continue;
    for (const ca of ba.cases) {
      const cb = bb.cases.find((x) => x.workload === ca.workload && x.concurrency === ca.concurrency);
      if (cb === undefined) continue;
      for (const side of Object.keys(ca.ratios) as Side[]) {
        const ra = ca.ratios[side];
        const rb = cb.ratios[side];
        if (ra === undefined || rb === undefined) continue;
        for (const metric of ['ops', 'cpu'] as const) {
          ratios.push({
            what: `${ba.name} ${ca.workload} c=${ca.concurrency} ${side} ${metric}`,
            first: ra[metric],
            second: rb[metric],
            // The two 95 % intervals do not overlap: the ratio changed between the runs.
            moved: disjoint(ra[metric], rb[metric]),
          });
        }
      }
    }
  }
  const moved = ratios.filter((r) => r.moved).length;
  return { ratios, moved, agrees: moved === 0 };
}

/** The comparison as a table, then a verdict line. */
export function renderComparison(c: Comparison): string {
  const rows = c.ratios.map((r) => [
    r.what,
    formatInterval(r.first),
    formatInterval(r.second),
    r.moved ? 'MOVED' : 'same',
  ]);
  const table = textTable([['Ratio to raw', 'first', 'second', ''], ...rows], [false, true, true, false]);
  const verdict = c.agrees
    ? `All ${c.ratios.length} ratios agree: every pair of 95 % intervals overlaps.`
    : `${c.moved} of ${c.ratios.length} ratios moved (their 95 % intervals do not overlap).`;
  return `${table}\n\n${verdict}`;
}
