import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as kit from './backends/backend.js';
import { startBackends } from './backends/index.js';
import { createDataset, workingSet } from './data.js';
import { describeEnvironment } from './env.js';
import { formatInterval, formatOps } from './format.js';
import { onInterrupt } from './lifecycle.js';
import { type Contender, measureCase } from './measure.js';
import { measureMemory } from './memory.js';
import { startExtras } from './peers.js';
import type { Progress } from './progress.js';
import { measureStability } from './stability.js';
import {
  type BackendResult,
  type BenchOptions,
  type BenchResults,
  PEER_NAMES,
  type Run,
  type Skipped,
} from './types.js';
import { WORKLOADS } from './workloads/index.js';

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A run, and the extra sides that could not run. */
type BenchRun = Run & { skipped: Skipped[] };

/** Loads the working set through Larder and the raw client (not timed) and checks it reads back. */
async function load(backend: kit.BenchBackend, { data, progress }: BenchRun): Promise<void> {
  const phase = progress.phase(
    `${backend.name}: loading`,
    `${data.keys.length.toLocaleString('en-US')} keys per side`,
  );
  const loader = kit.larderLoader(kit.loaderCache(backend.larder.store, kit.BENCH_CACHE_PREFIX));
  for (const write of [loader, backend.raw.load]) await kit.loadBatches(workingSet(data), write);
  await backend.fullStore?.fill();
  const probe = data.keys[data.keys.length - 1]!;
  const missing =
    (await backend.larder.get(probe)) === undefined || (await backend.raw.get(probe)) === undefined;
  phase.done(missing ? 'failed' : 'done');
  if (missing) throw new Error(`the loaded keys do not read back from ${backend.name} (probe ${probe})`);
}

/** Every workload × concurrency on one backend, case after case: Larder, raw, and the peers and variants. */
async function measureWorkloads(backend: kit.BenchBackend, result: BackendResult, run: BenchRun) {
  const { data, options, progress } = run;
  const started = progress.phase(`${backend.name}: loading the extra sides`);
  const { extras, skipped } = await startExtras(backend, data, options.peers);
  run.skipped.push(...skipped);
  started.done(extras.map((p) => p.label).join(', ') || 'none');
  try {
    for (const id of options.workloads) {
      const larder = id === 'set-full' ? backend.fullStore?.larder : backend.larder;
      if (larder === undefined || WORKLOADS[id].backends?.includes(backend.name) === false) continue;
      const sides: Contender[] = [
        { side: 'larder', label: 'Larder', ...kit.larderSide(larder) },
        { side: 'raw', label: backend.rawClient, driver: backend.raw },
        ...extras.filter((extra) => extra.workloads.includes(id)),
      ];
      for (const concurrency of options.concurrency) {
        const phase = progress.phase(`${backend.name} ${id} c=${concurrency}`);
        try {
          await backend.settle?.();
          const c = await measureCase(sides, WORKLOADS[id], concurrency, data, options, phase);
          result.cases.push(c);
          const [larder, raw] = [c.sides.larder!, c.sides.raw!].map((side) => formatOps(side.opsPerSec));
          const ratio = c.ratios.larder ? formatInterval(c.ratios.larder.ops) : '';
          phase.done(`Larder ${larder} ops/s, raw ${raw}, ${ratio}`);
        } catch (error) {
          phase.done('failed');
          result.failures.push({ workload: id, concurrency, error: message(error) });
        }
      }
    }
  } finally {
    for (const extra of extras) await extra.close().catch(() => {});
  }
}

/** One backend from start to finish: load, workloads, memory, stability; then its server goes. */
async function measureBackend(backend: kit.BenchBackend, run: BenchRun) {
  const { options, progress } = run;
  const started = performance.now();
  const { name, rawClient, server } = backend;
  const result: BackendResult = { name, rawClient, server, cases: [], failures: [], seconds: 0 };
  try {
    await load(backend, run);
    if (!options.skip.includes('workloads')) await measureWorkloads(backend, result, run);
    if (!options.skip.includes('memory')) {
      await measureMemory(backend, run).then(
        (memory) => (result.memory = memory),
        (error) => (result.memoryError = message(error)),
      );
    }
    if (!options.skip.includes('stability')) {
      await measureStability(backend, run).then(
        (stability) => (result.stability = stability),
        (error) => (result.stabilityError = message(error)),
      );
    }
  } catch (error) {
    result.error = message(error);
    progress.note(`${name}: ${result.error}`);
  } finally {
    const phase = progress.phase(`${name}: cleaning up`);
    await backend.teardown();
    phase.done();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** Runs the whole bench: start the servers, then each backend in turn, from loading to teardown. */
export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchResults> {
  const peers = options.peers ? [...PEER_NAMES, '@keyv/redis'] : [];
  const environment = describeEnvironment(new Date(), ['prom-client', ...peers]);
  const started = performance.now();
  const tempDir = mkdtempSync(join(tmpdir(), 'larder-bench-'));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  const unregister = onInterrupt(removeTemp);
  try {
    const { ready, skipped } = await startBackends({ options, tempDir }, progress);
    for (const s of skipped) progress.note(`Skipping ${s.name}: ${s.reason}\n  To enable it: ${s.fix}`);
    const data = createDataset(options.keys, options.valueSize, options.seed);
    const run = { data, options, progress, skipped };
    const backends: BackendResult[] = [];
    try {
      for (const backend of ready) backends.push(await measureBackend(backend, run));
    } finally {
      for (const backend of ready.slice(backends.length)) await backend.teardown().catch(() => {});
    }
    const seconds = (performance.now() - started) / 1000;
    return { schema: 2, environment, options, backends, skipped, seconds };
  } finally {
    removeTemp();
    unregister();
  }
}
