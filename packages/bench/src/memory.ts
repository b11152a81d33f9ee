import { type BenchBackend, loadBatches, type MemorySideName } from './backends/backend.js';
import { batchSize, makeValue, memoryKey } from './data.js';
import { formatBytes } from './format.js';
import type { PhaseHandle } from './progress.js';
import { ratio } from './stats.js';
import type { Run } from './types.js';

/** `count` entries of `valueSize` bytes to load, and where to report progress. */
type MemoryLoad = { count: number; valueSize: number; phase: PhaseHandle };

/** The figure is given per this many keys. */
export const PER_KEYS = 1_000_000;

/**
 * Loads `count` entries of `mem:<n>` keys through one side, in ~1 MiB batches, and returns the
 * bytes the target grew by. The raw side writes the very key Larder stores (`larder:1:mem:<n>`),
 * so the difference is what Larder adds per entry, not a longer key name. Keys are made during
 * the load, so a heap reading counts the ones a side keeps.
 */
async function sideBytes(backend: BenchBackend, side: MemorySideName, load: MemoryLoad) {
  const { count, valueSize, phase } = load;
  const pool = Array.from({ length: 64 }, (_, n) => makeValue(n, valueSize));
  const prefix = side === 'raw' ? 'larder:1:' : '';
  const plan = {
    count,
    keyAt: (i: number) => prefix + memoryKey(i),
    valueAt: (i: number) => pool[i & 63],
    batch: batchSize(valueSize),
    onProgress: (done: number) => phase.update(`${side}: ${done.toLocaleString('en-US')} keys`),
  };
  const target = await backend.memory.open(side);
  try {
    const before = await target.bytes();
    await loadBatches(plan, target.write, target.parallel);
    return (await target.bytes()) - before;
  } finally {
    phase.update(`${side}: removing`);
    await target.close(Array.from({ length: count }, (_, i) => plan.keyAt(i)));
  }
}

function perKey(bytes: number, keys: number) {
  return { bytes, bytesPerKey: bytes / keys, bytesPer1M: (bytes / keys) * PER_KEYS };
}

/**
 * Memory per 1M keys: loads `memoryKeys` entries through Larder, then the same payload through
 * the raw client, and asks the server (or the heap) what each needed. Never inside a timed phase.
 */
export async function measureMemory(backend: BenchBackend, { options, progress }: Run) {
  const started = performance.now();
  const keys = options.memoryKeys;
  const phase = progress.phase(`${backend.name}: memory`, `${keys.toLocaleString('en-US')} keys`);
  try {
    const load = { count: keys, valueSize: options.valueSize, phase };
    const larder = await sideBytes(backend, 'larder', load);
    const raw = await sideBytes(backend, 'raw', load);
    const result = {
      keys,
      extrapolated: keys !== PER_KEYS,
      method: backend.memory.methods.larder,
      rawMethod: backend.memory.methods.raw,
      larder: perKey(larder, keys),
      raw: perKey(raw, keys),
      ratio: ratio(larder, raw),
      seconds: (performance.now() - started) / 1000,
    };
    phase.done(
      `${formatBytes(result.larder.bytesPer1M)} Larder, ${formatBytes(result.raw.bytesPer1M)} raw per 1M keys`,
    );
    return result;
  } catch (error) {
    phase.done('failed');
    throw error;
  }
}
