// Summarizes a V8 .cpuprofile as self time per operation, by part (the store, the core, memjs,
// Node internals, GC, the socket write, idle) and by function:
//   node packages/bench/scripts/profile-summary.mjs <file.cpuprofile> <operations> [top functions]
// The operation count is the one the profiling script printed for the profiled rounds.
import { readFileSync } from 'node:fs';

const [file, opsArg, topArg] = process.argv.slice(2);
const ops = Number(opsArg);
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

const parts = new Map();
const functions = new Map();
const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const where = url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, '')
    .replace(/.*\/packages\//, '');
  let part;
  if (functionName === '(idle)') part = 'idle (waiting for the server)';
  else if (functionName === '(garbage collector)') part = 'garbage collector';
  else if (functionName === '(program)') part = '(program): V8/libuv outside JS';
  else if (/^write(Buffer|v|Utf8String|LatinString)$/.test(functionName) && url === '')
    part = 'socket write (system call)';
  else if (where.startsWith('backend-memcached/')) part = `store: ${where.split('/').pop()}`;
  else if (where.startsWith('core/')) part = `core: ${where.split('/').pop()}`;
  else if (where.startsWith('memjs/')) part = 'memjs';
  else if (url.startsWith('node:')) part = 'node internals (streams, buffers, timers, promises)';
  else if (url === '') part = `native: ${functionName}`;
  else part = `other: ${where}`;
  add(parts, part, us);
  add(functions, `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`, us);
}
const print = (map, n) => {
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${(us / ops).toFixed(2).padStart(8)} µs/op  ${key}`);
  }
};
print(parts, 40);
console.log('--- functions');
print(functions, top);
