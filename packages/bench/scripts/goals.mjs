// The performance goals of issue #27 read off one or more bench runs: per backend and goal, the
// median ratio (95 % interval) of each run, and whether it meets the goal in every run (✓), in
// some (~) or in none (✗).
//   node packages/bench/scripts/goals.mjs bench-results/A/results.json bench-results/B/results.json
// Add --markdown for a Markdown table. "every op at c=1" shows the lowest workload at c=1; "CPU c=1"
// the highest CPU ÷ raw over the get and set workloads at c=1 (the goal holds for every one of them).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { markdown: { type: 'boolean', default: false } },
});
if (positionals.length === 0) {
  console.error('usage: goals.mjs RESULTS.json [RESULTS.json ...] [--markdown]');
  process.exit(2);
}

/** Larder ÷ raw goals: ops at least, CPU and memory at most. */
const GOALS = {
  memory: { get: 0.75, set: 0.6, incr: 0.5, many: 0.75, c1: 0.75, mem: 1.15 },
  sqlite: { get: 0.9, set: 1.0, incr: 0.9, many: 0.9, c1: 0.9, mem: 1.1 },
  redis: { get: 2.0, set: 1.0, incr: 1.0, many: 0.9, c1: 0.9, mem: 1.02 },
  memcached: { get: 1.5, set: 1.0, incr: 1.0, many: 1.0, c1: 0.9, mem: 1.08 },
  postgres: { get: 3.0, set: 1.5, incr: 1.0, many: 0.9, c1: 0.9, mem: 1.1 },
};
const CPU_GOAL = 1.3;
const CPU_WORKLOADS = new Set(['get-hit', 'get-hot', 'get-miss', 'set', 'set-full']);

const runs = positionals.map((path) => JSON.parse(readFileSync(path, 'utf8')));

/** One reading: { value, text, low, high } for a goal cell of one run, or undefined. */
function reading(backend, column) {
  const find = (workload, concurrency) =>
    backend.cases.find((c) => c.workload === workload && c.concurrency === concurrency);
  const ops = (c) => c?.ratios?.larder?.ops;
  const cpu = (c) => c?.ratios?.larder?.cpu;
  const fixed = { get: 'get-hit', set: 'set', incr: 'incr', many: 'get-many' };
  if (column in fixed) return interval(ops(find(fixed[column], 64)));
  if (column === 'c1') {
    const lowest = backend.cases
      .filter((c) => c.concurrency === 1 && ops(c))
      .sort((a, b) => ops(a).median - ops(b).median)[0];
    return lowest && { ...interval(ops(lowest)), label: lowest.workload };
  }
  if (column === 'cpu') {
    const highest = backend.cases
      .filter((c) => c.concurrency === 1 && CPU_WORKLOADS.has(c.workload) && cpu(c))
      .sort((a, b) => cpu(b).median - cpu(a).median)[0];
    return highest && { ...interval(cpu(highest)), label: highest.workload };
  }
  const ratio = backend.memory?.ratio;
  return ratio === undefined ? undefined : { value: ratio, text: ratio.toFixed(3) };
}

function interval(r) {
  if (!r) return undefined;
  const f = (x) => x.toFixed(2);
  return { value: r.median, low: r.low, high: r.high, text: `${f(r.median)} (${f(r.low)}–${f(r.high)})` };
}

const COLUMNS = [
  ['get', 'get c=64'],
  ['set', 'set c=64'],
  ['incr', 'incr c=64'],
  ['many', 'getMany(100) c=64'],
  ['c1', 'every op at c=1'],
  ['cpu', `CPU ÷ raw c=1 (≤ ${CPU_GOAL})`],
  ['mem', 'memory / storage'],
];

const rows = [];
let met = 0;
let cells = 0;
for (const [name, goal] of Object.entries(GOALS)) {
  const backends = runs.map((run) => run.backends.find((b) => b.name === name));
  if (backends.some((b) => b === undefined)) continue;
  const row = [name];
  for (const [column] of COLUMNS) {
    const bar = column === 'cpu' ? CPU_GOAL : goal[column];
    const atMost = column === 'cpu' || column === 'mem';
    const readings = backends.map((b) => reading(b, column));
    if (readings.some((r) => r === undefined)) {
      row.push('–');
      continue;
    }
    const passes = readings.filter((r) => (atMost ? r.value <= bar : r.value >= bar)).length;
    const mark = passes === readings.length ? '✓' : passes > 0 ? '~' : '✗';
    cells++;
    if (mark === '✓') met++;
    const texts = readings.map((r) => (r.label ? `${r.label} ${r.text}` : r.text));
    row.push(`${texts.join(' / ')} ${atMost ? '≤' : '≥'} ${bar} ${mark}`);
  }
  rows.push(row);
}

const header = ['backend', ...COLUMNS.map(([, title]) => title)];
if (args.markdown) {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
} else {
  for (const row of rows) {
    console.log(row[0]);
    for (const [i, cell] of row.slice(1).entries()) console.log(`  ${header[i + 1].padEnd(24)} ${cell}`);
  }
}
console.log(
  `\n${met} of ${cells} cells met in ${runs.length === 1 ? 'the run' : `all ${runs.length} runs`}.`,
);
