import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as kit from './backends/backend.js';
import { BACKEND_LOADERS } from './backends/index.js';
import { BackendUnavailableError } from './backends/load.js';
import { batchSize, createDataset, type Dataset } from './data.js';
import { describeEnvironment } from './env.js';
import { formatInterval, formatOps } from './format.js';
import { onInterrupt } from './lifecycle.js';
import { type Contender, measureCase } from './measure.js';
import { measureMemory } from './memory.js';
import { type ExtraSide, startExtras } from './peers.js';
import type { Progress } from './progress.js';
import { measureStability } from './stability.js';
import {
  type BackendResult,
  type BenchOptions,
  type BenchResults,
  PEER_NAMES,
  type Skipped,
} from './types.js';
import { WORKLOADS } from './workloads/index.js';

/** Thrown before any long phase when a server the user asked for cannot be used. */
export class FatalSetupError extends Error {
  override readonly name = 'FatalSetupError';
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Starts every wanted backend at once. Unavailable ones become skips with a reason and a fix;
 * an unanswering environment URL or a backend named with --backends that cannot run stops here.
 */
async function startBackends(options: BenchOptions, tempDir: string, progress: Progress) {
  const phase = progress.phase('starting backends', options.backends.join(', '));
  const settled = await Promise.allSettled(
    options.backends.map(async (name) => {
      const backend = await BACKEND_LOADERS[name]({ options, tempDir });
      onInterrupt(() => backend.teardown());
      return backend;
    }),
  );
  const ready: kit.BenchBackend[] = [];
  const skipped: Skipped[] = [];
  const fatal: string[] = [];
  for (const [i, outcome] of settled.entries()) {
    const name = options.backends[i]!;
    if (outcome.status === 'fulfilled') {
      ready.push(outcome.value);
      continue;
    }
    const e = outcome.reason;
    const known = e instanceof BackendUnavailableError;
    const reason = known ? e.reason : `${name} failed to start: ${message(e)}`;
    const fix = known ? e.fix : 'see the message above; run with --backends to isolate it';
    if ((known && e.fatal) || options.backendsExplicit) fatal.push(`${name}: ${reason}\n  Fix: ${fix}`);
    else skipped.push({ name, reason, fix });
  }
  phase.done(ready.map((b) => `${b.name} (${b.server.version})`).join(', '));
  if (fatal.length > 0) {
    await Promise.allSettled(ready.map((b) => b.teardown()));
    throw new FatalSetupError(fatal.join('\n'));
  }
  return { ready, skipped };
}

/** Loads the working set through Larder and the raw client (not timed) and checks it reads back. */
async function load(backend: kit.BenchBackend, data: Dataset, progress: Progress): Promise<void> {
  const phase = progress.phase(
    `${backend.name}: loading`,
    `${data.keys.length.toLocaleString('en-US')} keys per side`,
  );
  const valueAt = (i: number) => data.values[i % data.values.length];
  const loader = kit.larderLoader(kit.loaderCache(backend.larder.store, kit.BENCH_CACHE_PREFIX));
  for (const write of [loader, (entries: kit.Entries) => backend.raw.load(entries)]) {
    await kit.loadBatches({ keys: data.keys, valueAt, batch: batchSize(data.valueSize) }, write);
  }
  await backend.fullStore?.fill();
  const probe = data.keys[data.keys.length - 1]!;
  const missing =
    (await backend.larder.get(probe)) === undefined || (await backend.raw.get(probe)) === undefined;
  phase.done(missing ? 'failed' : 'done');
  if (missing) throw new Error(`the loaded keys do not read back from ${backend.name} (probe ${probe})`);
}

/** What every phase of a backend needs. */
type Run = { data: Dataset; options: BenchOptions; progress: Progress };

/** Every workload × concurrency on one backend, one case after another: Larder, raw and the extra sides. */
async function measureWorkloads(
  backend: kit.BenchBackend,
  result: BackendResult,
  extras: ExtraSide[],
  run: Run,
) {
  const { data, options, progress } = run;
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
        const ratio = c.ratios.larder ? formatInterval(c.ratios.larder.ops) : '';
        phase.done(
          `Larder ${formatOps(c.sides.larder!.opsPerSec)} ops/s, raw ${formatOps(c.sides.raw!.opsPerSec)}, ${ratio}`,
        );
      } catch (error) {
        phase.done('failed');
        result.failures.push({ workload: id, concurrency, error: message(error) });
      }
    }
  }
}

/** One backend from start to finish: load, extra sides, workloads, memory, stability; then its server goes. */
async function measureBackend(backend: kit.BenchBackend, run: Run, skipped: Skipped[]) {
  const { data, options, progress } = run;
  const started = performance.now();
  const { name, rawClient, server } = backend;
  const result: BackendResult = { name, rawClient, server, cases: [], failures: [], seconds: 0 };
  const extras: ExtraSide[] = [];
  try {
    await load(backend, data, progress);
    if (!options.skip.includes('workloads')) {
      const phase = progress.phase(`${name}: loading the extra sides`);
      const found = await startExtras(backend, data, options.peers);
      extras.push(...found.extras);
      skipped.push(...found.skipped);
      phase.done(extras.map((p) => p.label).join(', ') || 'none');
      await measureWorkloads(backend, result, extras, run);
    }
    for (const p of extras.splice(0)) await p.close().catch(() => {});
    if (!options.skip.includes('memory')) {
      await measureMemory(backend, options, progress).then(
        (memory) => (result.memory = memory),
        (error) => (result.memoryError = message(error)),
      );
    }
    if (!options.skip.includes('stability')) {
      await measureStability(backend, data, options, progress).then(
        (stability) => (result.stability = stability),
        (error) => (result.stabilityError = message(error)),
      );
    }
  } catch (error) {
    result.error = message(error);
    progress.note(`${name}: ${result.error}`);
  } finally {
    for (const p of extras) await p.close().catch(() => {});
    const phase = progress.phase(`${name}: cleaning up`);
    await backend.teardown();
    phase.done();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** Runs the whole bench: start the servers, then each backend in turn, from loading to teardown. */
export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchResults> {
  const environment = describeEnvironment(new Date(), [
    'prom-client',
    ...(options.peers ? [...PEER_NAMES, '@keyv/redis'] : []),
  ]);
  const started = performance.now();
  const tempDir = mkdtempSync(join(tmpdir(), 'larder-bench-'));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  const unregister = onInterrupt(removeTemp);
  try {
    const { ready, skipped } = await startBackends(options, tempDir, progress);
    for (const s of skipped) progress.note(`Skipping ${s.name}: ${s.reason}\n  To enable it: ${s.fix}`);
    const data = createDataset(options.keys, options.valueSize, options.seed);
    const backends: BackendResult[] = [];
    try {
      for (const backend of ready)
        backends.push(await measureBackend(backend, { data, options, progress }, skipped));
    } finally {
      for (const backend of ready.slice(backends.length)) await backend.teardown().catch(() => {});
    }
    return {
      schema: 2,
      environment,
      options,
      backends,
      skipped,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    removeTemp();
    unregister();
  }
}
