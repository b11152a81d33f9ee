import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { memoryStore } from '@larder/core';
import { makeValue } from '../data.js';
import { trackChild } from '../lifecycle.js';
import {
  type BenchBackend,
  benchCaches,
  CountingLogger,
  decodeRaw,
  encodeRaw,
  larderLoader,
  loadBatches,
  type MemoryLoad,
  type MemorySideName,
  type MemoryReading,
  once,
  type RawDriver,
} from './backend.js';

/** MemoryStore's default `maxEntries`: the set-full workload writes into a store this full. */
export const FULL_STORE_ENTRIES = 100_000;

const CHILD = fileURLToPath(new URL('../memory-child.js', import.meta.url));

/** MemoryStore through Larder beside a bare `Map` of the same JSON strings. */
export async function createMemoryBackend(): Promise<BenchBackend> {
  const logger = new CountingLogger();
  // Large limits: the bench measures speed, not the LRU's eviction.
  const store = memoryStore({ maxEntries: 10_000_000, maxBytes: 2 ** 40, maxValueBytes: 2 ** 30 });
  const { larder, loader } = benchCaches(store, logger);
  const map = new Map<string, string>();
  const raw: RawDriver = {
    get: async (key) => decodeRaw(map.get(key)),
    set: async (key, value) => {
      map.set(key, encodeRaw(value));
      return true;
    },
    getMany: async (keys) => keys.map((key) => decodeRaw(map.get(key))),
    incr: async (key) => {
      const next = Number(map.get(key) ?? 0) + 1;
      map.set(key, String(next));
      return next;
    },
    load: async (entries) => {
      for (const [key, value] of entries) map.set(key, encodeRaw(value));
    },
  };
  // The set-full workload's store: MemoryStore's default size, filled before its case.
  const full = benchCaches(memoryStore({ maxEntries: FULL_STORE_ENTRIES }), logger);
  const fill = async () => {
    const keys = Array.from({ length: FULL_STORE_ENTRIES }, (_, n) => `fill:${n}`);
    const value = makeValue(0, 100);
    await loadBatches(keys, () => value, 1000, larderLoader(full.loader));
  };
  const teardown = once(async () => {
    map.clear();
    await larder.close();
    await full.larder.close();
  });
  // Both children start on the first call: each measures its own fresh heap, so they may run side by side.
  let readings: Record<MemorySideName, Promise<MemoryReading>> | undefined;
  const measureMemory = (side: MemorySideName, load: MemoryLoad): Promise<MemoryReading> => {
    if (readings === undefined) {
      readings = { larder: measureInChild('larder', load), raw: measureInChild('raw', load) };
      // Handled here too, so a failure of the side nobody awaits yet is never an unhandled rejection.
      for (const pending of Object.values(readings)) pending.catch(() => {});
    }
    const reading = readings[side];
    if (side === 'raw') readings = undefined;
    return reading;
  };
  return {
    name: 'memory',
    rawClient: 'Map of JSON strings',
    server: { version: process.version, source: 'embedded', address: 'in-process' },
    url: undefined,
    fullStore: { larder: full.larder, fill },
    larder,
    loader,
    raw,
    timeoutMs: 1000,
    faults: undefined,
    faultsUnavailable: 'embedded in the process: nothing to kill',
    measureMemory,
    teardown,
  };
}

/** Heap + external bytes added by the entries, measured in a fresh `node --expose-gc` process. */
function measureInChild(side: MemorySideName, load: MemoryLoad): Promise<MemoryReading> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--max-old-space-size=8192',
        CHILD,
        JSON.stringify({ side, count: load.count, valueSize: load.valueSize }),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    trackChild(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`memory child exited with ${signal ?? code}: ${err.trim().slice(0, 500)}`));
        return;
      }
      try {
        const { bytes } = JSON.parse(out.trim()) as { bytes: number };
        resolve({
          bytes,
          method:
            side === 'larder'
              ? 'V8 heap + external bytes delta (child process, --expose-gc)'
              : 'same, for a Map<string, string>',
        });
      } catch (error) {
        reject(new Error(`memory child printed no result: ${(error as Error).message}`));
      }
    });
  });
}
