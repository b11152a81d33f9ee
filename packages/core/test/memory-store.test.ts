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

  it('keeps its bounds across scopes, evicting from each in turn, oldest first', async () => {
    const store = new MemoryStore({ maxEntries: 4 });
    for (const key of ['p:1:a', 'p:1:b', 'p:1:@n:a', 'p:1:@n:b']) await store.set(key, bytes(key), HOUR);
    await store.set('p:1:c', bytes('c'), HOUR);
    await store.set('p:1:@n:c', bytes('c'), HOUR);
    const left: string[] = [];
    for await (const key of store.keys('')) left.push(key);
    expect(left.sort()).toEqual(['p:1:@n:b', 'p:1:@n:c', 'p:1:b', 'p:1:c']);
    expect(await store.info()).toMatchObject({ items: 4, evictions: 2 });
    await store.clear('p:1:@');
    expect(await store.info()).toMatchObject({
      items: 2,
      bytesUsed: 2 * 'p:1:b'.length * 2 + 'p:1:b'.length + 'c'.length,
    });
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

  it('hands back a copy on every read, so a caller changing what it read changes nothing stored', async () => {
    const store = new MemoryStore();
    await store.set('k', bytes('abc'), HOUR);
    const first = (await store.get('k'))!;
    first[0] = 0x7a;
    const [many] = await store.getMany(['k']);
    many![1] = 0x7a;
    const frame = store.sync.get('', 'k') as Uint8Array | string;
    expect(frame).toBe('abc');
    expect(Buffer.from((await store.get('k'))!).toString()).toBe('abc');
    await store.close();
  });

  it('keeps every byte value, and hands ASCII-only values to the cache as strings', async () => {
    const store = new MemoryStore();
    const all = new Uint8Array(256).map((_, i) => i);
    await store.set('binary', all, HOUR);
    expect([...(await store.get('binary'))!]).toEqual([...all]);
    const read = store.sync.get('', 'binary');
    expect(read).toBeInstanceOf(Uint8Array);
    expect([...(read as Uint8Array)]).toEqual([...all]);
    store.sync.setText('', 'text', 1, 'Zoë 😀', HOUR);
    expect(Buffer.from((await store.get('text'))!)).toEqual(
      Buffer.concat([Buffer.of(1), Buffer.from('Zoë 😀')]),
    );
    store.sync.setText('', 'ascii', 1, '{"a":1}', HOUR);
    expect(store.sync.get('', 'ascii')).toBe('\u0001{"a":1}');
    expect((await store.info()).bytesUsed).toBe(
      'binary'.length * 2 +
        256 +
        'text'.length * 2 +
        1 +
        Buffer.byteLength('Zoë 😀') +
        'ascii'.length * 2 +
        8,
    );
    await store.close();
  });

  it('keeps a key without expiry, and expiries far in the future, exactly', async () => {
    let now = 1_000;
    const store = new MemoryStore({ now: () => now });
    await store.set('never', bytes('n'), Number.POSITIVE_INFINITY);
    await store.set('decade', bytes('d'), 10 * 365 * 86_400_000);
    expect(await store.ttl('never')).toBe(Number.POSITIVE_INFINITY);
    expect(await store.ttl('decade')).toBe(10 * 365 * 86_400_000);
    now += 10 * 365 * 86_400_000 - 1;
    expect(await store.ttl('decade')).toBe(1);
    now += 1;
    expect(await store.has('decade')).toBe(false);
    expect(await store.has('never')).toBe(true);
    await store.close();
  });

  it('incr keeps the expiry of an existing counter, however many digits it grows to', async () => {
    let now = 5_000;
    const store = new MemoryStore({ now: () => now });
    expect(await store.incr('c', 1, 1000)).toBe(1);
    now += 400;
    expect(await store.incr('c', 12_345_678_900, 99_999)).toBe(12_345_678_901);
    expect(await store.incr('c', -12_345_678_901, 99_999)).toBe(0);
    expect(await store.ttl('c')).toBe(600);
    now += 600;
    expect(await store.has('c')).toBe(false);
    await store.set('x', bytes('12a'), HOUR);
    await expect(store.incr('x', 1, HOUR)).rejects.toThrow(/not an integer/);
    await store.set('big', bytes('9007199254740991'), HOUR);
    await expect(store.incr('big', 1, HOUR)).rejects.toThrow(/not an integer/);
    await store.close();
  });

  it('keeps a counter as its decimal digits: read back, touched, counted toward maxBytes, overwritten', async () => {
    let now = 5_000;
    const store = new MemoryStore({ now: () => now, maxBytes: 55, maxValueBytes: 20 });
    const text = async (key: string) => Buffer.from((await store.get(key)) ?? []).toString();
    expect(await store.incr('c', -7, 1000)).toBe(-7);
    expect(await text('c')).toBe('-7');
    expect(Buffer.from(store.readSync('c') ?? []).toString()).toBe('-7');
    expect(store.sync.get('', 'c')).toBe('-7');
    expect(await store.incr('c', 1_000_006, 1000)).toBe(999_999);
    expect((await store.info()).bytesUsed).toBe(2 + 6);
    expect(await store.incr('c', 1, 1000)).toBe(1_000_000);
    expect((await store.info()).bytesUsed).toBe(2 + 7);
    expect(await store.touch('c', 5000)).toBe(true);
    expect(await store.ttl('c')).toBe(5000);
    expect(await store.incr('c', 1, 1)).toBe(1_000_001);
    expect(await store.ttl('c')).toBe(5000);
    // A counter growing past maxBytes evicts, as a write would.
    await store.set('a', bytes('x'.repeat(20)), HOUR);
    await store.set('b', bytes('y'.repeat(20)), HOUR);
    expect(await store.incr('c', 1_000_000_000, 1000)).toBe(1_001_000_001);
    expect((await store.info()).bytesUsed).toBe(2 + 10 + 22);
    expect(await store.has('a')).toBe(false);
    await store.set('c', bytes('text'), HOUR);
    expect(await text('c')).toBe('text');
    await expect(store.incr('c', 1, HOUR)).rejects.toThrow(/not an integer/);
    await store.set('c', bytes('41'), HOUR);
    expect(await store.incr('c', 1, 1)).toBe(42);
    expect(await store.ttl('c')).toBe(HOUR);
    now += HOUR;
    expect(await store.get('c')).toBeUndefined();
    store.sweep();
    expect(await store.info()).toMatchObject({ items: 0, bytesUsed: 0 });
    await store.close();
  });

  it('refuses a counter past 2^53 and leaves it as it was', async () => {
    const store = new MemoryStore();
    expect(await store.incr('c', Number.MAX_SAFE_INTEGER - 1, HOUR)).toBe(Number.MAX_SAFE_INTEGER - 1);
    expect(await store.incr('c', 1, HOUR)).toBe(Number.MAX_SAFE_INTEGER);
    await expect(store.incr('c', 1, HOUR)).rejects.toThrow(/not an integer/);
    expect(await store.incr('c', -Number.MAX_SAFE_INTEGER, HOUR)).toBe(0);
    await store.close();
    const small = new MemoryStore({ maxValueBytes: 2 });
    await expect(small.incr('n', 100, HOUR)).rejects.toThrow(/maxValueBytes/);
    await small.close();
  });

  it('gives a rewritten key a second chance, like a read, once the store fills', async () => {
    const store = new MemoryStore({ maxEntries: 3 });
    await store.set('a', bytes('a'), HOUR);
    await store.set('b', bytes('b'), HOUR);
    await store.set('c', bytes('c'), HOUR);
    await store.set('a', bytes('A'), HOUR);
    await store.set('d', bytes('d'), HOUR);
    expect(await store.has('a')).toBe(true);
    expect(await store.has('b')).toBe(false);
    await store.close();
  });

  it("finds Buffer's unchecked utf8Write, latin1Write and latin1Slice (Node internals it uses when present)", () => {
    // Without them the store falls back to the checked public forms: correct, but slower.
    for (const name of ['utf8Write', 'latin1Write', 'latin1Slice']) {
      expect(typeof (Buffer.prototype as unknown as Record<string, unknown>)[name], name).toBe('function');
    }
  });

  it('rejects bad configuration in the constructor', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => new MemoryStore({ maxBytes: 10, maxValueBytes: 100 })).toThrow(/maxValueBytes/);
  });
});
