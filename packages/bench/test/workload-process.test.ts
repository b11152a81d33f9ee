import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BenchBackend } from '../src/backends/backend.js';
import { createMemoryBackend } from '../src/backends/memory.js';
import { createDataset } from '../src/data.js';
import { SpeedGauge } from '../src/speed-gauge.js';
import { processShare } from '../src/types.js';
import type * as WorkloadProcess from '../src/workload-process.js';
import { sampleResults } from './fixtures.js';

describe('processShare', () => {
  it('gives every process the same share of the rounds, rounded up', () => {
    expect(processShare({ rounds: 5, maxRounds: 10 }, 1)).toEqual({ rounds: 5, maxRounds: 10 });
    expect(processShare({ rounds: 5, maxRounds: 10 }, 2)).toEqual({ rounds: 3, maxRounds: 5 });
    expect(processShare({ rounds: 3, maxRounds: 3 }, 3)).toEqual({ rounds: 1, maxRounds: 1 });
    expect(processShare({ rounds: 4, maxRounds: 9 }, 2)).toEqual({ rounds: 2, maxRounds: 5 });
  });
});

// The workload process is the built `dist/workload-child.js` (Node 20 cannot run the
// TypeScript source); `.ci/run` and `pnpm bench` build before this runs.
const dist = fileURLToPath(new URL('../dist/workload-process.js', import.meta.url));
const built = existsSync(dist) && existsSync(join(dist, '../workload-child.js'));

describe.skipIf(!built)('measureInProcess (built package)', () => {
  it('measures in a fresh process that loads its own working set and reads the gauge through this one', async () => {
    const { measureInProcess } = (await import(dist)) as typeof WorkloadProcess;
    const options = {
      ...sampleResults().options,
      backends: ['memory' as const],
      workloads: ['get-hit' as const, 'set' as const],
      concurrency: [1, 4],
      keys: 1000,
      durationMs: 20,
      warmupMs: 5,
      rounds: 2,
      maxRounds: 2,
    };
    // This process's memory backend stays empty: only the workload process's own heap has data.
    const backend = await createMemoryBackend();
    // The gauge's second reading finds CPU 1 slowed; every other reading is at full speed.
    let reads = 0;
    const gauge = new SpeedGauge(() => (++reads === 2 ? [100, 50] : [100, 100]), { cpus: [0, 1] });
    const tempDir = mkdtempSync(join(tmpdir(), 'larder-bench-test-'));
    try {
      const measured = await measureInProcess(
        backend,
        { options, tempDir, where: '', progress: 'quiet' },
        gauge,
      );
      expect(measured.failures).toEqual([]);
      expect(measured.records.map((r) => `${r.workload} c=${r.concurrency}`)).toEqual([
        'get-hit c=1',
        'get-hit c=4',
        'set c=1',
        'set c=4',
      ]);
      for (const record of measured.records) {
        expect(record.larder).toHaveLength(2);
        expect(record.raw).toHaveLength(2);
        expect(record.speeds).toHaveLength(2);
        for (const side of [record.larder, record.raw]) {
          for (const round of side) {
            expect(round.ops).toBeGreaterThan(0);
            // get-hit found every key it asked for: the working set was loaded over there.
            expect(round.failed).toBe(0);
          }
        }
      }
      // The readings came from this process's gauge: one visit saw the slowed CPU.
      expect(reads).toBeGreaterThan(8);
      expect(measured.records.flatMap((r) => r.speeds)).toContainEqual([100, 50]);
      expect(await backend.larder.get(createDataset(1000, 100, 1).keys[0]!)).toBeUndefined();
    } finally {
      await backend.teardown();
      rmSync(tempDir, { recursive: true, force: true });
    }
  });

  it("rejects with the workload process's reason when it cannot reach the server", async () => {
    const { measureInProcess } = (await import(dist)) as typeof WorkloadProcess;
    // A Redis URL nothing listens on: the process's loader fails and says why.
    const unreachable = {
      name: 'redis',
      connection: { variable: 'REDIS_URL', url: 'redis://127.0.0.1:1' },
      serverPids: () => [],
    } as unknown as BenchBackend;
    const options = { ...sampleResults().options, backends: ['redis' as const] };
    await expect(
      measureInProcess(unreachable, { options, tempDir: tmpdir(), where: '', progress: 'quiet' }, undefined),
    ).rejects.toThrow(/127\.0\.0\.1:1/);
  });
});
