// Runs in its own process (node --expose-gc) so that nothing else lives on the heap it measures:
// loads `count` entries into a MemoryStore through Larder (or into a bare Map of JSON strings)
// and prints the heap + external bytes they added, as one JSON line.
import { createCache, memoryStore } from '@larder/core';
import { makeValue, memoryKey } from './data.js';

interface Request {
  side: 'larder' | 'raw';
  count: number;
  valueSize: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function used(): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const request = JSON.parse(process.argv[2] ?? '{}') as Request;
  const { side, count, valueSize } = request;
  const pool = Array.from({ length: 64 }, (_, n) => makeValue(n, valueSize));
  const batch = Math.max(1, Math.min(1000, Math.floor((1024 * 1024) / valueSize)));
  // Keys are built inside the loop and dropped by the caller, as an app's would be, so the
  // delta holds exactly the strings each side keeps.
  const before = used();
  let keep: unknown;
  if (side === 'larder') {
    const cache = createCache({
      store: memoryStore({ maxEntries: count + 1000, maxBytes: 2 ** 46, maxValueBytes: 2 ** 30 }),
      ignoreErrors: false,
    });
    for (let start = 0; start < count; start += batch) {
      const entries: [string, unknown][] = [];
      for (let i = start; i < Math.min(count, start + batch); i++) entries.push([memoryKey(i), pool[i & 63]]);
      await cache.setMany(entries);
    }
    keep = cache;
  } else {
    const map = new Map<string, string>();
    for (let i = 0; i < count; i++) map.set(memoryKey(i), JSON.stringify(pool[i & 63]));
    keep = map;
  }
  const after = used();
  process.stdout.write(`${JSON.stringify({ bytes: after - before, kept: keep !== undefined })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
