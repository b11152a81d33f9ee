import type { BenchBackend } from './backends/backend.js';
import { formatBytes } from './format.js';
import type { Progress } from './progress.js';
import { ratio } from './stats.js';
import type { BenchOptions } from './types.js';

/** The figure is given per this many keys. */
export const PER_KEYS = 1_000_000;

function side(bytes: number, keys: number) {
  const bytesPerKey = bytes / keys;
  return { bytes, bytesPerKey, bytesPer1M: bytesPerKey * PER_KEYS };
}

/**
 * Memory per 1M keys: loads `memoryKeys` entries through Larder, then the same payload through
 * the raw client, in batches, and asks the server (or the heap) what each needed. Never inside
 * a timed phase.
 */
export async function measureMemory(
  backend: BenchBackend,
  options: Pick<BenchOptions, 'memoryKeys' | 'valueSize'>,
  progress: Progress,
) {
  const started = performance.now();
  const keys = options.memoryKeys;
  const phase = progress.phase(`${backend.name}: memory`, `${keys.toLocaleString('en-US')} keys`);
  try {
    const load = { count: keys, valueSize: options.valueSize, phase };
    const larder = await backend.measureMemory('larder', load);
    const raw = await backend.measureMemory('raw', load);
    const result = {
      keys,
      extrapolated: keys !== PER_KEYS,
      method: larder.method,
      rawMethod: raw.method,
      larder: side(larder.bytes, keys),
      raw: side(raw.bytes, keys),
      ratio: ratio(larder.bytes, raw.bytes),
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
