import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CacheLogger,
  createCache,
  MemoryStore,
  SerializationError,
  type Serializer,
  v8Serializer,
} from '../src/index.js';
import { ChaosStore } from '../src/testing/index.js';

/**
 * Properties of the codec, through the public API: every value round-trips or is refused
 * before any I/O; every byte string reads back as a value or as a counted miss, never an
 * exception, in bounded time. Seeded and bounded; LARDER_FC_SEED replays a failure.
 */
const SEED = Number(process.env.LARDER_FC_SEED ?? 20261203);
const RUNS = 300;
const quiet: CacheLogger = { warn: () => {}, error: () => {} };

/** JSON's documented, deliberate changes: a Date becomes its ISO string, -0 becomes 0. */
function asJsonDocuments(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

const settings: [string, { serializer?: Serializer; compression?: { threshold: number } | false }][] = [
  ['JSON', {}],
  ['JSON + gzip', { compression: { threshold: 16 } }],
  ['v8', { serializer: v8Serializer }],
  ['v8 + gzip', { serializer: v8Serializer, compression: { threshold: 16 } }],
];

describe('property: every value round-trips or is refused before any I/O', () => {
  for (const [name, options] of settings) {
    it(`${name} (${RUNS} runs, seed ${SEED})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.anything({
            withBigInt: true,
            withDate: true,
            withMap: true,
            withSet: true,
            withTypedArray: true,
            withNullPrototype: true,
            withSparseArray: true,
            withBoxedValues: true,
          }),
          async (value) => {
            const chaos = new ChaosStore(new MemoryStore());
            const cache = createCache({ store: chaos, logger: quiet, ...options });
            const stored = await cache.set('k', value).then(
              (ok) => ok,
              (error: unknown) => error,
            );
            if (stored instanceof Error) {
              expect(stored).toBeInstanceOf(SerializationError);
              expect(chaos.writes).toBe(0);
              return;
            }
            expect(stored).toBe(value !== undefined);
            if (value === undefined) return;
            const back = await cache.get('k');
            if (options.serializer === v8Serializer) {
              expect(isDeepStrictEqual(back, structuredClone(value))).toBe(true);
            } else {
              expect(back).toEqual(asJsonDocuments(value));
            }
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }
});

describe('property: any stored bytes read as a value or a counted miss', () => {
  it(`never throws and stays fast (${RUNS} runs, seed ${SEED})`, async () => {
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      // Bytes that start like a frame: a header in 0x01–0x1f, sometimes claiming compression.
      fc
        .tuple(fc.integer({ min: 1, max: 0x1f }), fc.uint8Array({ maxLength: 512 }))
        .map(([header, body]) => Uint8Array.from([header, ...body])),
    );
    await fc.assert(
      fc.asyncProperty(frames, async (bytes) => {
        const memory = new MemoryStore();
        const cache = createCache({ store: memory, logger: quiet, serializer: v8Serializer });
        await memory.set('larder:1:k', bytes, 60_000);
        const started = performance.now();
        const value = await cache.get('k');
        expect(performance.now() - started).toBeLessThan(100);
        const { hits, misses, corrupt } = cache.stats();
        if (value === undefined) expect(misses).toBe(1);
        else expect(hits).toBe(1);
        expect(corrupt).toBeLessThanOrEqual(misses);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
