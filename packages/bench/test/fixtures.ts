import type { BackendResult, BenchResults, CaseResult, SideResult, SideStability } from '../src/types.js';

function side(opsPerSec: number): SideResult {
  const round = {
    ops: opsPerSec,
    elapsedMs: 1000,
    opsPerSec,
    p50Ms: 0.1,
    p99Ms: 0.9,
    errors: 0,
    failed: 0,
    machineSpeed: 1,
    counted: true,
  };
  return {
    opsPerSec: { median: opsPerSec, min: opsPerSec * 0.9, max: opsPerSec * 1.1 },
    medianError: 0.02,
    slowRounds: 0,
    keysPerSec: opsPerSec,
    p50Ms: 0.1,
    p99Ms: 0.9,
    errors: 0,
    failed: 0,
    rounds: [round, round, round],
  };
}

function stability(summary: string): SideStability {
  return {
    burst: { inFlight: 5000, errors: 0, p99Ms: 12, maxMs: 20, seconds: 0.2 },
    faults: [],
    faultsSkipped: 'embedded in the process: nothing to kill',
    summary,
  };
}

/** A measured backend with one get-hit case per concurrency. */
export function backendResult(name: BackendResult['name'], larderOps: number, rawOps: number): BackendResult {
  const cases: CaseResult[] = [1, 64].map((concurrency) => ({
    workload: 'get-hit',
    concurrency,
    keysPerOp: 1,
    larder: side(larderOps * concurrency),
    raw: side(rawOps * concurrency),
    ratio: larderOps / rawOps,
    otherCpuCores: 0.1,
    busy: false,
  }));
  return {
    name,
    rawClient: name === 'memory' ? 'Map of JSON strings' : 'raw <client>',
    server: { version: '1.0', source: 'embedded', address: 'in-process' },
    cases,
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
    schema: 1,
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
      packages: { tinybench: '6.2.5' },
    },
    options: {
      backends: ['memory', 'sqlite', 'redis'],
      backendsExplicit: false,
      workloads: ['get-hit'],
      skip: [],
      quick: true,
      valueSize: 100,
      concurrency: [1, 64],
      durationMs: 100,
      warmupMs: 30,
      rounds: 3,
      maxRounds: 3,
      processes: 1,
      embeddedWeight: 1,
      speedWaitMs: 0,
      keys: 10_000,
      memoryKeys: 100_000,
      inFlight: 5000,
      faultMs: 500,
      outDir: undefined,
      check: true,
      seed: 1,
    },
    backends: [backendResult('memory', 200_000, 400_000), backendResult('sqlite', 50_000, 60_000)],
    skipped: [{ name: 'redis', reason: 'redis-server was not found', fix: 'apt-get install redis-server' }],
    seconds: 42,
    notes: ['Memory was measured with 100,000 keys and extrapolated to 1M.'],
  };
}
