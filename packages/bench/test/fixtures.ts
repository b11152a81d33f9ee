import { summarizeCase } from '../src/measure.js';
import type { BackendResult, BenchResults, Round, SideRound, SideStability } from '../src/types.js';
import { WORKLOADS } from '../src/workloads/index.js';

/** One side's figures in a round. */
export function sideRound(opsPerSec: number, cpuUsPerOp = 10): SideRound {
  return {
    ops: opsPerSec / 10,
    elapsedMs: 100,
    opsPerSec,
    cpuUsPerOp,
    p50Ms: 0.1,
    p99Ms: 0.9,
    errors: 0,
    failed: 0,
  };
}

/**
 * Rounds of Larder beside raw whose ratio is `ratio` times a small per-round wobble, on a host
 * whose speed swings by half from round to round (it moves both sides of a round alike).
 */
export function rounds(larderOps: number, ratio: number, count = 10): Round[] {
  return Array.from({ length: count }, (_, r) => {
    const host = r % 2 === 0 ? 1 : 0.5;
    const wobble = 1 + ((r % 5) - 2) * 0.01;
    return {
      startedAt: 1_700_000_000_000 + r * 1000,
      order: r % 2 === 0 ? ['larder', 'raw'] : ['raw', 'larder'],
      sides: {
        larder: sideRound(larderOps * host, 10 / ratio),
        raw: sideRound(((larderOps * host) / ratio) * wobble, 10),
      },
    };
  });
}

function stability(summary: string): SideStability {
  return {
    burst: { inFlight: 5000, errors: 0, p99Ms: 12, maxMs: 20 },
    faults: [],
    faultsSkipped: 'embedded in the process: nothing to kill',
    summary,
  };
}

/** A measured backend with one get-hit case per concurrency, Larder at `ratio` × raw. */
export function backendResult(name: BackendResult['name'], larderOps: number, ratio: number): BackendResult {
  const labels = { larder: 'Larder', raw: name === 'memory' ? 'Map of JSON strings' : 'raw <client>' };
  return {
    name,
    rawClient: labels.raw,
    server: { version: '1.0', source: 'embedded', address: 'in-process' },
    cases: [1, 64].map((c) => summarizeCase(WORKLOADS['get-hit'], c, labels, rounds(larderOps * c, ratio))),
    failures: [],
    memory: {
      keys: 100_000,
      extrapolated: true,
      method: 'heap delta',
      rawMethod: 'same',
      larder: { bytes: 45_000_000, bytesPerKey: 450, bytesPer1M: 450_000_000 },
      raw: { bytes: 28_000_000, bytesPerKey: 280, bytesPer1M: 280_000_000 },
      ratio: 450 / 280,
      seconds: 2,
    },
    stability: { larder: stability('0 errors at 5K in flight'), raw: stability('0 errors at 5K in flight') },
    seconds: 10,
  };
}

/** A complete, valid results object with memory and sqlite measured and redis skipped. */
export function sampleResults(): BenchResults {
  return {
    schema: 2,
    environment: {
      date: '2025-01-31T10:00:00.000Z',
      node: 'v20.20.2',
      v8: '11.3',
      platform: 'linux-x64',
      os: 'Debian 12',
      cpuModel: 'AMD EPYC',
      cpuCores: 2,
      totalMemoryBytes: 2 ** 34,
      loadAverage: [0.1, 0.2, 0.3],
      packages: { ioredis: '6.0.0' },
    },
    options: {
      backends: ['memory', 'sqlite', 'redis'],
      backendsExplicit: false,
      workloads: ['get-hit'],
      skip: [],
      quick: true,
      peers: false,
      valueSize: 100,
      concurrency: [1, 64],
      durationMs: 100,
      warmupMs: 30,
      rounds: 10,
      keys: 10_000,
      memoryKeys: 100_000,
      inFlight: 5000,
      faultMs: 500,
      outDir: undefined,
      check: true,
      seed: 1,
    },
    backends: [backendResult('memory', 200_000, 0.5), backendResult('sqlite', 50_000, 0.8)],
    skipped: [{ name: 'redis', reason: 'redis-server was not found', fix: 'apt-get install redis-server' }],
    seconds: 42,
  };
}
