import { describe, expect, it } from 'vitest';
import { MemoryStore, memoryStore } from '../src/index.js';
import { describeStoreContract } from '../src/testing/index.js';

describeStoreContract({ name: 'MemoryStore', createStore: () => memoryStore(), separateInstances: true });

describe('MemoryStore', () => {
  const HOUR = 3_600_000;
  const bytes = (text: string) => new Uint8Array(Buffer.from(text));

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const store = new MemoryStore({ maxEntries: 2 });
    await store.set('a', bytes('a'), HOUR);
    await store.set('b', bytes('b'), HOUR);
    await store.get('a');
    await store.set('c', bytes('c'), HOUR);
    expect(await store.has('a')).toBe(true);
    expect(await store.has('b')).toBe(false);
    expect((await store.info()).evictions).toBe(1);
    await store.close();
  });

  it('keeps its byte total under maxBytes', async () => {
    const store = new MemoryStore({ maxBytes: 1000, maxValueBytes: 500 });
    for (let i = 0; i < 20; i++) await store.set(`k${i}`, new Uint8Array(100), HOUR);
    const info = await store.info();
    expect(info.bytesUsed).toBeLessThanOrEqual(1000);
    expect(info.items).toBeLessThan(20);
    await store.close();
  });

  it('sweeps expired entries with an injected clock', async () => {
    let now = 1_000;
    const store = new MemoryStore({ now: () => now });
    await store.set('a', bytes('a'), 100);
    await store.set('b', bytes('b'), 10_000);
    now += 101;
    store.sweep();
    expect((await store.info()).items).toBe(1);
    await store.close();
  });

  it('stores a copy, so a caller reusing its buffer cannot change a stored value', async () => {
    const store = new MemoryStore();
    const value = bytes('abc');
    await store.set('k', value, HOUR);
    value[0] = 0x7a;
    expect(Buffer.from((await store.get('k'))!).toString()).toBe('abc');
    await store.close();
  });

  it('rejects bad configuration in the constructor', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new MemoryStore({ maxBytes: 10, maxValueBytes: 100 })).toThrow(/maxValueBytes/);
  });
});
