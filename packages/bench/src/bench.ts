import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchBackend, larderDriver, larderLoader, loadBatches } from './backends/backend.js';
import { BACKEND_LOADERS } from './backends/index.js';
import { BackendUnavailableError } from './backends/load.js';
import { batchSize, createDataset, type Dataset } from './data.js';
import { describeEnvironment } from './env.js';
import { formatInterval, formatOps } from './format.js';
import { onInterrupt } from './lifecycle.js';
import { type Contender, measureCase } from './measure.js';
import { measureMemory } from './memory.js';
import { PEERS_OF, type Peer, startPeers } from './peers.js';
import type { Progress } from './progress.js';
import { measureStability } from './stability.js';
import {
  type BackendResult,
  type BenchOptions,
  type BenchResults,
  PEER_NAMES,
  type Skipped,
  type WorkloadId,
} from './types.js';
import { WORKLOADS } from './workloads/index.js';

/** Thrown before any long phase when a server the user asked for cannot be used. */
export class FatalSetupError extends Error {
  override readonly name = 'FatalSetupError';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts every wanted backend at once (servers come up in parallel). Unavailable ones become
 * skips with a reason and a fix; an unanswering environment URL or an explicitly requested
 * backend that cannot run aborts the run here, before anything long starts.
 */
async function startBackends(
  options: BenchOptions,
  tempDir: string,
  progress: Progress,
): Promise<{ ready: BenchBackend[]; skipped: Skipped[] }> {
  const phase = progress.phase('starting backends', options.backends.join(', '));
  const settled = await Promise.allSettled(
    options.backends.map(async (name) => {
      const backend = await BACKEND_LOADERS[name]({ options, tempDir });
      onInterrupt(() => backend.teardown());
      return backend;
    }),
  );
  const ready: BenchBackend[] = [];
  const skipped: Skipped[] = [];
  const fatal: string[] = [];
  settled.forEach((outcome, i) => {
    const name = options.backends[i]!;
    if (outcome.status === 'fulfilled') {
      ready.push(outcome.value);
      return;
    }
    const error = outcome.reason;
    const unavailable = error instanceof BackendUnavailableError;
    const reason = unavailable ? error.reason : `${name} failed to start: ${message(error)}`;
    const fix = unavailable ? error.fix : 'see the message above; run with --backends to isolate it';
    if ((unavailable && error.fatal) || options.backendsExplicit) fatal.push(`${name}: ${reason}\n  Fix: ${fix}`);
    else skipped.push({ name, reason, fix });
  });
  if (fatal.length > 0) {
    phase.done();
    await Promise.allSettled(ready.map((b) => b.teardown()));
    throw new FatalSetupError(fatal.join('\n'));
  }
  phase.done(ready.map((b) => `${b.name} (${b.server.version})`).join(', '));
  return { ready, skipped };
}

/** Loads the working set through Larder and the raw client (not timed) and checks it reads back. */
async function load(backend: BenchBackend, data: Dataset, progress: Progress): Promise<void> {
  const phase = progress.phase(`${backend.name}: loading`, `${data.keys.length.toLocaleString('en-US')} keys per side`);
  const batch = batchSize(data.valueSize);
  const valueAt = (i: number) => data.values[i % data.values.length];
  await loadBatches(data.keys, valueAt, batch, larderLoader(backend.loader));
  await loadBatches(data.keys, valueAt, batch, (entries) => backend.raw.load(entries));
  await backend.fullStore?.fill();
  const probe = data.keys[data.keys.length - 1]!;
  if ((await backend.larder.get(probe)) === undefined || (await backend.raw.get(probe)) === undefined) {
    phase.done('failed');
    throw new Error(`the loaded keys do not read back from ${backend.name} (probe ${probe})`);
  }
  phase.done('done');
}

/** Who runs a workload on a backend: Larder and raw, plus the peers that do plain get/set. */
function contenders(backend: BenchBackend, id: WorkloadId, peers: readonly Peer[]): Contender[] | undefined {
  const larder = id === 'set-full' ? backend.fullStore?.larder : backend.larder;
  if (larder === undefined) return undefined;
  const sides: Contender[] = [
    { side: 'larder', label: 'Larder', driver: larderDriver(larder), swallowed: () => larder.stats().errors },
    { side: 'raw', label: backend.rawClient, driver: backend.raw },
  ];
  if (WORKLOADS[id].peers) for (const p of peers) sides.push({ side: p.name, label: p.label, driver: p.driver });
  return sides;
}

/** Every workload × concurrency on one backend, one case after another. */
async function measureWorkloads(
  backend: BenchBackend,
  result: BackendResult,
  data: Dataset,
  peers: readonly Peer[],
  options: BenchOptions,
  progress: Progress,
): Promise<void> {
  for (const id of options.workloads) {
    for (const concurrency of options.concurrency) {
      const sides = contenders(backend, id, peers);
      if (sides === undefined) continue;
      const phase = progress.phase(`${backend.name} ${id} c=${concurrency}`);
      try {
        await backend.settle?.();
        const c = await measureCase(sides, WORKLOADS[id], concurrency, data, options, phase);
        result.cases.push(c);
        const larder = c.ratios.larder;
        phase.done(
          `Larder ${formatOps(c.sides.larder?.opsPerSec ?? 0)} ops/s, raw ${formatOps(c.sides.raw?.opsPerSec ?? 0)}, ${larder ? formatInterval(larder.ops) : ''}`,
        );
      } catch (error) {
        phase.done('failed');
        result.failures.push({ workload: id, concurrency, error: message(error) });
      }
    }
  }
}

/** One backend from start to finish: load, workloads, memory, stability. Its server then goes. */
async function measureBackend(
  backend: BenchBackend,
  data: Dataset,
  options: BenchOptions,
  progress: Progress,
  skipped: Skipped[],
): Promise<BackendResult> {
  const started = performance.now();
  const result: BackendResult = {
    name: backend.name,
    rawClient: backend.rawClient,
    server: backend.server,
    cases: [],
    failures: [],
    seconds: 0,
  };
  let peers: Peer[] = [];
  try {
    await load(backend, data, progress);
    if (options.peers && PEERS_OF[backend.name] !== undefined) {
      const phase = progress.phase(`${backend.name}: loading peers`, PEERS_OF[backend.name]!.join(', '));
      const started = await startPeers(backend, data);
      peers = started.peers;
      skipped.push(...started.skipped);
      phase.done(peers.map((p) => p.label).join(', ') || 'none');
    }
    if (!options.skip.includes('workloads')) {
      await measureWorkloads(backend, result, data, peers, options, progress);
    }
    for (const p of peers.splice(0)) await p.close().catch(() => {});
    if (!options.skip.includes('memory')) {
      await measureMemory(backend, options, progress).then(
        (memory) => (result.memory = memory),
        (error) => (result.memoryError = message(error)),
      );
    }
    if (!options.skip.includes('stability')) {
      const stability = { inFlight: options.inFlight, faultMs: options.faultMs, rawFaults: !options.quick };
      await measureStability(backend, data, stability, progress).then(
        (s) => (result.stability = s),
        (error) => (result.stabilityError = message(error)),
      );
    }
  } catch (error) {
    result.error = message(error);
    progress.note(`${backend.name}: ${result.error}`);
  } finally {
    for (const p of peers) await p.close().catch(() => {});
    const phase = progress.phase(`${backend.name}: cleaning up`);
    await backend.teardown();
    phase.done();
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** Runs the whole bench: start the servers, then each backend in turn, then report. */
export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchResults> {
  const date = new Date();
  const started = performance.now();
  const tempDir = mkdtempSync(join(tmpdir(), 'larder-bench-'));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  const unregister = onInterrupt(removeTemp);
  try {
    const { ready, skipped } = await startBackends(options, tempDir, progress);
    for (const s of skipped) progress.note(`Skipping ${s.name}: ${s.reason}\n  To enable it: ${s.fix}`);
    const data = createDataset(options.keys, options.valueSize, options.seed);
    const backends: BackendResult[] = [];
    let done = 0;
    try {
      for (const backend of ready) {
        backends.push(await measureBackend(backend, data, options, progress, skipped));
        done++;
      }
    } finally {
      for (const backend of ready.slice(done)) await backend.teardown().catch(() => {});
    }
    const notes: string[] = [];
    if (options.memoryKeys < 1_000_000 && !options.skip.includes('memory')) {
      notes.push(
        `Memory was measured with ${options.memoryKeys.toLocaleString('en-US')} keys and extrapolated to 1M.`,
      );
    }
    return {
      schema: 2,
      environment: describeEnvironment(date, options.peers ? [...PEER_NAMES, '@keyv/redis'] : []),
      options,
      backends,
      skipped,
      seconds: (performance.now() - started) / 1000,
      notes,
    };
  } finally {
    removeTemp();
    unregister();
  }
}
