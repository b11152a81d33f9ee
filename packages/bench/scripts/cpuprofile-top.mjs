// Self time by function in a .cpuprofile (from node --cpu-prof), as a share of all samples.
// Usage: node packages/bench/scripts/cpuprofile-top.mjs <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';

const [file, rowsArg = '30'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const byNode = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  byNode.set(id, (byNode.get(id) ?? 0) + us);
  total += us;
});
const byFunction = new Map();
for (const [id, us] of byNode) {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const name = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
}
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(rowsArg))) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
}
