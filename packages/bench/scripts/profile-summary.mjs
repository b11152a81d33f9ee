// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per package, in ms and %,
// and the inclusive time of the functions named with --focus (a comma-separated list).
//   node packages/bench/scripts/profile-summary.mjs PROFILE.cpuprofile [--top 40] [--focus set,exec]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '40' },
    focus: { type: 'string', default: '' },
    // Operations the profiled run timed: figures are then given in µs per operation as well.
    ops: { type: 'string' },
  },
});
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0) / 1000);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const where = (cf) => {
  const url = cf.url || '';
  const m = /node_modules\/\.pnpm\/([^/]+)\//.exec(url) || /packages\/([^/]+)\//.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node';
  return url === '' ? '(native)' : url.split('/').slice(-2).join('/');
};
const label = (n) =>
  `${n.callFrame.functionName || '(anon)'} ${where(n.callFrame)}:${n.callFrame.lineNumber + 1}`;
const byFn = new Map();
const byPkg = new Map();
for (const [id, ms] of self) {
  const n = nodes.get(id);
  byFn.set(label(n), (byFn.get(label(n)) ?? 0) + ms);
  const pkg = where(n.callFrame);
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + ms);
}
const perOp = args.ops === undefined ? undefined : Number(args.ops);
const pct = (ms) =>
  `${((ms / total) * 100).toFixed(1).padStart(5)} %` +
  (perOp === undefined ? '' : ` ${((ms * 1000) / perOp).toFixed(2).padStart(7)} µs/op`);
console.log(`total sampled ${total.toFixed(0)} ms`);
console.log('\nself time by package:');
for (const [k, ms] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(ms)}  ${k}`);
console.log('\nself time by function:');
for (const [k, ms] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top)))
  console.log(`${pct(ms)}  ${k}`);
if (args.focus) {
  console.log('\ninclusive time (a sample counts once per name on its stack):');
  for (const name of args.focus.split(',')) {
    let ms = 0;
    for (const [id, t] of self) {
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
        if (nodes.get(cur).callFrame.functionName === name) {
          ms += t;
          break;
        }
      }
    }
    console.log(`${pct(ms)}  ${name}`);
  }
}
