import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';

/** Keys per MGET / UNLINK / pipeline when a caller hands over a big batch. */
export const CHUNK = 1000;

/**
 * The cluster hash slot of a key, computed by `cluster-key-slot` (the function ioredis routes
 * with) over the key's UTF-8 bytes, exactly the bytes the server hashes.
 */
export function keySlot(key: string | Uint8Array): number {
  if (typeof key === 'string') return calculateSlot(Buffer.from(key));
  return calculateSlot(Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength));
}

/** Groups item indexes by the slot of their key, keeping the original order inside each group. */
export function groupBySlot<T>(
  items: readonly T[],
  keyOf: (item: T) => string | Uint8Array,
): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < items.length; i++) {
    const slot = keySlot(keyOf(items[i]!));
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [i]);
    else group.push(i);
  }
  return groups;
}

/**
 * Index batches for multi-key commands: chunks of `CHUNK` keys, and in a Cluster never across
 * slots (Redis Cluster multi-key commands must stay in one slot, else CROSSSLOT).
 */
export function batchIndexes(keys: readonly (string | Uint8Array)[], cluster: boolean): number[][] {
  const groups = cluster ? [...groupBySlot(keys, (key) => key).values()] : [keys.map((_, index) => index)];
  const batches: number[][] = [];
  for (const group of groups) {
    for (let start = 0; start < group.length; start += CHUNK) batches.push(group.slice(start, start + CHUNK));
  }
  return batches;
}

/** The nodes that hold keys: the client itself, or every master of a Cluster (SCAN, INFO walk one server). */
export function keyNodes(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}
