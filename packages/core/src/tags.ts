import type { TaggedEntry } from './codec.js';
import { InvalidKeyError } from './errors.js';
import { escapeBody, joinKeyParts } from './keys.js';
import type { Store } from './store.js';

/**
 * Tags: each tag has a version counter in the store (`scope#tag:<name>`), and a tagged entry
 * carries the version each of its tags had when it was written. `invalidateTags` bumps the
 * counters, so every entry written before reads as a miss; no clock is compared, only
 * counters. A counter that is missing (evicted, expired) is recreated from the clock, so it
 * never falls back to a version an old entry holds.
 */

/** How long a tag's counter lives; an entry whose tag counter expired reads as a miss. */
export const TAG_TTL_MS = 30 * 86_400_000;
const MAX_TAGS = 32;

/** Checks a call's tags (non-empty strings, at most 32) and drops repeats. */
export function checkTags(tags: unknown): string[] {
  if (!Array.isArray(tags)) throw new InvalidKeyError('tags must be an array of strings');
  const unique = [...new Set(tags)];
  if (unique.length > MAX_TAGS) {
    throw new InvalidKeyError(`an entry can carry at most ${MAX_TAGS} tags, got ${unique.length}`);
  }
  for (const tag of unique) {
    if (typeof tag !== 'string' || tag.length === 0) {
      throw new InvalidKeyError('every tag must be a non-empty string');
    }
  }
  return unique as string[];
}

/** The key body of a tag's counter. A caller's key can never start with '#' (see escapeBody). */
export function tagBody(tag: string): string {
  return `#tag:${escapeBody(joinKeyParts([tag]))}`;
}

function parseVersion(bytes: Uint8Array | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  const version = Number(Buffer.from(bytes).toString('latin1'));
  return Number.isSafeInteger(version) ? version : undefined;
}

/** The current version of each tag counter; a missing counter is created, seeded from the clock. */
export async function currentVersions(
  store: Store,
  keys: readonly string[],
  now: () => number,
): Promise<number[]> {
  const found = await store.getMany(keys);
  return Promise.all(
    found.map(async (bytes, i) => {
      const version = parseVersion(bytes);
      if (version !== undefined) return version;
      const key = keys[i]!;
      const seed = now();
      if (await store.add(key, Buffer.from(String(seed), 'latin1'), TAG_TTL_MS)) return seed;
      return parseVersion(await store.get(key)) ?? seed;
    }),
  );
}

/** For each entry, whether every tag still has the version it was written under. */
export async function stillValid(
  store: Store,
  entries: readonly TaggedEntry[],
  keyOf: (tag: string) => string,
): Promise<boolean[]> {
  const tags = [...new Set(entries.flatMap((entry) => entry.tags.map(([name]) => name)))];
  const found = await store.getMany(tags.map(keyOf));
  const versions = new Map(tags.map((tag, i) => [tag, parseVersion(found[i])]));
  return entries.map((entry) => entry.tags.every(([name, version]) => versions.get(name) === version));
}
