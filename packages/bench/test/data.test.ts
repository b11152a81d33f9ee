import { describe, expect, it } from 'vitest';
import { batchSize, createDataset, createRandom, makeValue, rawKeysWritten } from '../src/data.js';

describe('dataset', () => {
  it.each([100, 1024, 102_400])('makes %d-byte JSON values', (size) => {
    for (const index of [0, 7, 63]) expect(JSON.stringify(makeValue(index, size)).length).toBe(size);
  });

  it('is the same for the same seed and uses only loaded keys', () => {
    const a = createDataset(1000, 100, 7);
    const b = createDataset(1000, 100, 7);
    expect(a.order).toEqual(b.order);
    expect(Math.max(...a.order)).toBeLessThan(1000);
    const writes = a.writes.reduce((n, w) => n + w, 0) / a.writes.length;
    expect(writes).toBeGreaterThan(0.08);
    expect(writes).toBeLessThan(0.12);
    expect(new Set(a.missingKeys).size).toBe(a.missingKeys.length);
    expect(a.missingKeys.some((k) => a.keys.includes(k))).toBe(false);
  });

  it('draws numbers in [0, 1)', () => {
    const random = createRandom(1);
    for (let i = 0; i < 1000; i++) {
      const x = random();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it('batches about 1 MiB of values, 1 to 1000 entries', () => {
    expect(batchSize(100)).toBe(1000);
    expect(batchSize(102_400)).toBe(10);
    expect(batchSize(10 * 2 ** 20)).toBe(1);
  });

  it('lists every raw key a run writes, for cleaning shared servers by exact key', () => {
    const keys = rawKeysWritten(10);
    expect(keys).toContain('bench:9');
    expect(keys).toContain('bench:counter:1023');
    expect(keys).toContain('stab:3:31');
    expect(keys).toHaveLength(10 + 1024 + 128);
  });
});
