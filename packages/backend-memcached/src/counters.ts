import { NotIntegerError } from '@larder/core';
import { NAME } from './errors.js';

const TWO_POW_63 = 2n ** 63n;
const TWO_POW_64 = 2n ** 64n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** An integer `set` wrote as text ("-n" included), short enough to be a safe integer. */
export const INTEGER_TEXT = /^-?\d{1,17}$/;

/** The error for a counter that would leave the range a JavaScript number holds exactly. */
export function unsafeCounter(key: string): NotIntegerError {
  return new NotIntegerError(
    'incr would take the counter past ±(2^53 - 1) (Number.MAX_SAFE_INTEGER), out of the safe-integer range a JavaScript number holds exactly; the stored value is unchanged',
    { key, store: NAME },
  );
}

/** Whether `value + delta` stays a safe integer (both are safe integers, as bigint arithmetic). */
export function sumIsSafe(value: bigint, delta: number): boolean {
  const sum = value + BigInt(delta);
  return sum <= MAX_SAFE && sum >= -MAX_SAFE;
}

/** A counter as memcached returns it (unsigned 64-bit), read as two's complement. */
export function readCounter(value: Buffer): bigint {
  return BigInt.asIntN(64, value.readBigUInt64BE(0));
}

/** How a counter is stored: plain decimal, and below zero the decimal of its 64-bit two's complement. */
export function encodeCounter(value: number | bigint): Buffer {
  return Buffer.from(BigInt.asUintN(64, BigInt(value)).toString(), 'latin1');
}

/**
 * The integer a stored value holds as `incr` reads it (plain or two's complement decimal,
 * trailing spaces allowed), or undefined when it holds something else.
 */
export function parseCounter(value: Buffer): bigint | undefined {
  const text = decodeCounter(value).toString('latin1');
  return INTEGER_TEXT.test(text) || /^\d{18,20}$/.test(text) ? BigInt(text) : undefined;
}

/**
 * A counter as `incr` left it, in canonical decimal: memcached pads a counter that got shorter
 * in place with trailing spaces, and one below zero is kept as its two's complement (at least
 * 2^63), which becomes "-n" again. Anything that does not start with a digit is returned as is:
 * the cache frames every value but a safe integer behind a header byte below '0'.
 */
export function decodeCounter(value: Buffer): Buffer {
  const length = value.byteLength;
  const first = value[0];
  if (first === undefined || first < 0x30 || first > 0x39) return value;
  let digits = 1;
  while (digits < length && value[digits]! >= 0x30 && value[digits]! <= 0x39) digits++;
  for (let i = digits; i < length; i++) if (value[i] !== 0x20) return value;
  if (digits >= 19 && digits <= 20) {
    const counter = BigInt(value.toString('latin1', 0, digits));
    if (counter >= TWO_POW_63 && counter < TWO_POW_64) {
      return Buffer.from(BigInt.asIntN(64, counter).toString(), 'latin1');
    }
  }
  return digits === length ? value : value.subarray(0, digits);
}
