import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Cache,
  CacheError,
  type CacheLogger,
  createCache,
  MemoryStore,
  type StoreCapabilities,
} from '../src/index.js';
import { escapeBody, fitKey, namespaceSegment, scopeLength } from '../src/keys.js';
import { ChaosStore } from '../src/testing/index.js';
import { generationToken } from '../src/view.js';

/**
 * Property: two distinct logical keys (prefix, version, namespace path, key) never share
 * storage, under the key limits of every backend, or one of them is refused with a typed
 * error. Seeded and bounded; set LARDER_FC_SEED to replay a failure (fast-check prints the
 * seed and the counterexample).
 */
const SEED = Number(process.env.LARDER_FC_SEED ?? 20261203);
const RUNS = 150;

const quiet: CacheLogger = { warn: () => {}, error: () => {} };
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Each backend's declared key limits, as the stores declare them. */
const PROFILES: Record<string, Partial<StoreCapabilities>> = {
  memory: { maxKeyBytes: 64 * 1024 },
  redis: { maxKeyBytes: 1024 },
  // biome-ignore lint/suspicious/noControlCharactersInRegex: memcached forbids exactly these.
  memcached: { maxKeyBytes: 250, forbiddenKeyChars: /[\x00-\x20\x7f]/, clearScope: 'none' },
  postgres: { maxKeyBytes: 2000, forbiddenKeyChars: new RegExp(`\\u0000|${LONE_SURROGATE.source}`) },
  sqlite: { maxKeyBytes: 4096, forbiddenKeyChars: LONE_SURROGATE },
};

/** Pieces chosen to collide if any layer were careless: separators, escapes, wildcards, Unicode. */
const PIECES = [
  'a',
  'b',
  ':',
  '@',
  '#',
  '%',
  '%3A',
  '%25',
  '_',
  '*',
  '?',
  '[',
  ']',
  '\\',
  '.',
  '-',
  'g1',
  ' ',
  '\u0000',
  '\r\n',
  '\u007f',
  'é',
  'e\u0301',
  '\ud800',
  '\udc00',
  '\ufffd',
  '😀',
  'ä',
];
const text = (min: number) =>
  fc
    .tuple(fc.array(fc.constantFrom(...PIECES), { minLength: min, maxLength: 6 }), fc.nat({ max: 3 }))
    // Sometimes long enough that the store cannot hold the key and the cache hashes it.
    .map(([parts, long]) => parts.join('') + (long === 3 ? 'x'.repeat(1200) : ''));

interface Logical {
  prefix: string;
  version: number | string;
  namespaces: string[];
  key: string;
}
const logical: fc.Arbitrary<Logical> = fc.record({
  prefix: fc.constantFrom('larder', 'app', 'app:x', 'a*', 'a[b]', 'a%', 'a_', 'a@b', 'é'),
  version: fc.oneof(fc.constantFrom(1, 2, '1', 'v2', 'a:b'), fc.integer({ min: 0, max: 3 })),
  namespaces: fc.array(text(1), { maxLength: 2 }),
  key: text(1),
});

/** Characters that a careless encoding would fold into one another. */
const CONFUSABLE: readonly [string, string][] = [
  ['\ud800', '\udc00'],
  ['\udc00', '\ufffd'],
  ['é', 'e\u0301'],
  [':', '%3A'],
  ['%', '%25'],
  ['@', '#'],
  ['\u0000', ''],
  [' ', '_'],
  ['*', '?'],
  ['😀', '\ufffd'],
];

/** `a` and a copy of it that differ in one part by one confusable pair, at the same place. */
function nearPair(a: Logical): fc.Arbitrary<[Logical, Logical]> {
  return fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([field, pick, where]) => {
    const [from, to] = CONFUSABLE[pick % CONFUSABLE.length]!;
    const both = (value: string): [string, string] => {
      const cut = where % (value.length + 1);
      return [value.slice(0, cut) + from + value.slice(cut), value.slice(0, cut) + to + value.slice(cut)];
    };
    const left: Logical = { ...a, namespaces: [...a.namespaces] };
    const right: Logical = { ...a, namespaces: [...a.namespaces] };
    const chosen = field % (2 + a.namespaces.length);
    if (chosen === 0) [left.key, right.key] = both(a.key);
    else if (chosen === 1) {
      const [x, y] = both('n');
      left.namespaces.push(x);
      right.namespaces.push(y);
    } else [left.namespaces[chosen - 2], right.namespaces[chosen - 2]] = both(a.namespaces[chosen - 2]!);
    return [left, right];
  });
}

const pair: fc.Arbitrary<[Logical, Logical]> = fc.oneof(fc.tuple(logical, logical), {
  arbitrary: logical.chain(nearPair),
  weight: 3,
});

const same = (a: Logical, b: Logical) =>
  a.prefix === b.prefix &&
  String(a.version) === String(b.version) &&
  a.key === b.key &&
  a.namespaces.length === b.namespaces.length &&
  a.namespaces.every((name, i) => name === b.namespaces[i]);

/** The cache view a logical key lives in: its prefix, version and namespace path. */
function viewOf(store: ChaosStore, at: Logical): Cache {
  let cache = createCache({
    store,
    prefix: at.prefix,
    version: at.version,
    logger: quiet,
    ignoreErrors: false,
  });
  for (const name of at.namespaces) cache = cache.namespace(name);
  return cache;
}

/** Writes `marker` under the logical key; `'refused'` when the library rejected it with a typed error. */
async function write(store: ChaosStore, at: Logical, marker: string): Promise<'ok' | 'refused'> {
  try {
    await viewOf(store, at).set(at.key, marker);
    return 'ok';
  } catch (error) {
    if (error instanceof CacheError) return 'refused';
    throw error;
  }
}

const read = (store: ChaosStore, at: Logical) => viewOf(store, at).get(at.key);

describe('property: distinct logical keys never share storage', () => {
  for (const [backend, capabilities] of Object.entries(PROFILES)) {
    it(`under ${backend}'s key limits (${RUNS} runs, seed ${SEED})`, async () => {
      await fc.assert(
        fc.asyncProperty(pair, async ([a, b]) => {
          fc.pre(!same(a, b));
          const store = new ChaosStore(new MemoryStore(), { capabilities });
          const wroteA = await write(store, a, 'A');
          const wroteB = await write(store, b, 'B');
          if (wroteA === 'ok') expect(await read(store, a)).toBe('A');
          if (wroteB === 'ok') expect(await read(store, b)).toBe('B');
          // Every stored key fits the backend: never over its limit, never a forbidden character.
          for await (const stored of store.inner.keys!('')) {
            expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(capabilities.maxKeyBytes!);
            if (capabilities.forbiddenKeyChars)
              expect(capabilities.forbiddenKeyChars.test(stored)).toBe(false);
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }

  it('clear() of one prefix leaves every other prefix alone, whatever characters either holds', async () => {
    await fc.assert(
      fc.asyncProperty(logical, logical, async (a, b) => {
        fc.pre(a.prefix !== b.prefix);
        const store = new ChaosStore(new MemoryStore());
        if ((await write(store, b, 'B')) !== 'ok') return;
        try {
          await createCache({ store, prefix: a.prefix, logger: quiet }).clear();
        } catch (error) {
          if (!(error instanceof CacheError)) throw error;
        }
        expect(await read(store, b)).toBe('B');
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('property: a MemoryStore splits every key the cache builds where the cache does', () => {
  it(`the synchronous (scope, body) calls and the full-key calls meet at the same entry (${RUNS} runs, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(logical, async (at) => {
        const store = new MemoryStore();
        let cache: Cache;
        try {
          cache = viewOf(store as unknown as ChaosStore, at);
          // Written through the synchronous path, with the scope and the body apart.
          await cache.set(at.key, 'S');
        } catch (error) {
          if (error instanceof CacheError) return;
          throw error;
        }
        const scope = `${at.prefix}:${at.version}:${at.namespaces.map(namespaceSegment).join('')}`;
        const full = fitKey(scope, scope + escapeBody(at.key), store.capabilities);
        expect(scopeLength(full)).toBe(scope.length);
        const listed: string[] = [];
        for await (const key of store.keys('')) listed.push(key);
        expect(listed).toEqual([full]);
        // The full-key calls find it, and what they write the synchronous path reads.
        expect(await store.has(full)).toBe(true);
        await store.set(full, Buffer.from('\u0001"F"'), 60_000);
        expect(await cache.get(at.key)).toBe('F');
        expect(await store.delete(full)).toBe(true);
        expect(await cache.get(at.key)).toBeUndefined();
        await store.close();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('generation tokens', () => {
  it('are one per generation: different numbers never share a token, and none holds the separator', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.maxSafeInteger(), (a, b) => {
        const [ta, tb] = [generationToken(a), generationToken(b)];
        expect(ta === tb).toBe(a === b);
        expect(ta).toMatch(/^-?[0-9A-Za-z_~]+$/);
      }),
    );
  });

  it('take 7 characters for a generation seeded from the clock until 2109', () => {
    expect(generationToken(Date.UTC(2026, 11, 3))).toHaveLength(7);
    expect(generationToken(64 ** 7 - 1)).toHaveLength(7);
    expect(new Date(64 ** 7).getUTCFullYear()).toBe(2109);
    expect(generationToken(0)).toBe('0');
    expect(generationToken(64)).toBe('10');
  });
});
