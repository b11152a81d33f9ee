// cluster-key-slot ships no types; this is the one function the store uses.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot of a key (CRC16 of the key or its first non-empty {hash tag}, mod 16384). */
  export default function calculateSlot(key: string | Buffer | Uint8Array): number;
}
