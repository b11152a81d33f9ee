/** Number of hash slots in a Redis Cluster. */
export const SLOT_COUNT = 16_384;

const TABLE = buildTable();

function buildTable(): Uint16Array {
  // CRC-16/XMODEM (polynomial 0x1021), the checksum Redis Cluster uses for key slots.
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
}

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!) & 0xffff;
  return crc;
}

/**
 * The cluster hash slot of a key: CRC16 of the key, or of its first non-empty `{hash tag}`,
 * modulo 16384 — the same rule the server applies.
 */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key) : key;
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // '{'
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // '}'
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  return crc16(bytes, start, end) % SLOT_COUNT;
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
