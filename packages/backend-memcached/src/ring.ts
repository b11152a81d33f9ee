import { createHash } from 'node:crypto';

/** MD5 digests per server; each digest gives four 32-bit points, so 160 points per server (as ketama). */
const DIGESTS_PER_SERVER = 40;

/**
 * A ketama-style consistent-hash ring. Every server owns 160 points placed by the MD5 of
 * `host:port-i`, and a key belongs to the first point at or after the MD5 of the key. A point
 * depends only on its own server's name, so adding or removing one of N servers moves only the
 * keys that server gains or loses: about 1/N of them, where hashing modulo N moves most keys.
 */
export class HashRing {
  /** Point positions, ascending. */
  readonly #points: Uint32Array;
  /** The server (index into the names given) owning the point at the same position. */
  readonly #owners: Uint32Array;

  /** `names` identify the servers (`host:port`); a key maps to an index into this array. */
  constructor(names: readonly string[]) {
    const placed: { point: number; owner: number }[] = [];
    names.forEach((name, owner) => {
      for (let i = 0; i < DIGESTS_PER_SERVER; i++) {
        const digest = md5(`${name}-${i}`);
        for (let part = 0; part < 4; part++) placed.push({ point: digest.readUInt32LE(part * 4), owner });
      }
    });
    // Ties (rare) go to the server whose name sorts first, so every client builds the same ring.
    placed.sort((a, b) => a.point - b.point || compare(names[a.owner]!, names[b.owner]!));
    this.#points = Uint32Array.from(placed, (p) => p.point);
    this.#owners = Uint32Array.from(placed, (p) => p.owner);
  }

  /** The index of the server that owns `key`. */
  serverFor(key: string): number {
    const hash = md5(key).readUInt32LE(0);
    const points = this.#points;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (points[mid]! < hash) low = mid + 1;
      else high = mid;
    }
    return this.#owners[low === points.length ? 0 : low]!;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function md5(text: string): Buffer {
  return createHash('md5').update(text).digest();
}
