import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateSync,
} from 'node:zlib';

/** A compression algorithm from node:zlib; its `id` (1–3) goes into each value's frame. */
export interface Compressor {
  readonly id: 1 | 2 | 3;
  readonly name: CompressionAlgorithm;
  compress(bytes: Uint8Array): Uint8Array;
  /** Inflates; throws once the output would pass `maxBytes` (zlib stops there, so time and memory stay bounded). */
  decompress(bytes: Uint8Array, maxBytes: number): Uint8Array;
}

export type CompressionAlgorithm = 'deflate' | 'gzip' | 'brotli';

const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };

/** The built-in compressors by frame id. All three stay readable whatever the cache is set to write. */
export const compressors: Readonly<Record<CompressionAlgorithm, Compressor>> = {
  deflate: {
    id: 1,
    name: 'deflate',
    compress: (b) => deflateSync(b),
    decompress: (b, max) => inflateSync(b, { maxOutputLength: max }),
  },
  gzip: {
    id: 2,
    name: 'gzip',
    compress: (b) => gzipSync(b),
    decompress: (b, max) => gunzipSync(b, { maxOutputLength: max }),
  },
  brotli: {
    id: 3,
    name: 'brotli',
    compress: (b) => brotliCompressSync(b, BROTLI_OPTIONS),
    decompress: (b, max) => brotliDecompressSync(b, { maxOutputLength: max }),
  },
};

export const compressorsById: readonly (Compressor | undefined)[] = [
  undefined,
  compressors.deflate,
  compressors.gzip,
  compressors.brotli,
];
