/**
 * A workload process (`WorkloadProcess`): it gets one `StartMessage`, connects to the
 * backend, loads the working set where this process does not see it yet (the memory backend
 * lives in each process's own heap), runs the warm-up pass and says it is ready. Then it runs
 * one pass of its share of the rounds per `PassRequest`, and when none is left reports the
 * records and exits. The servers and their data belong to the bench; this process only
 * disconnects.
 */
import type { BenchBackend } from './backends/backend.js';
import { BACKEND_LOADERS } from './backends/index.js';
import { seed, WorkloadPasses } from './bench.js';
import { createDataset } from './data.js';
import { Progress } from './progress.js';
import { type GaugeAnswer, GaugeClient } from './speed-gauge.js';
import type {
  GaugeReply,
  GaugeRequest,
  PassRequest,
  ResultMessage,
  StartMessage,
} from './workload-process.js';

function send(message: ResultMessage | GaugeRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

/** A gauge read through the bench process, over IPC. */
function remoteGauge(pids: number[]): GaugeClient {
  let nextId = 0;
  const waiting = new Map<number, { resolve: (a: GaugeAnswer) => void; reject: (e: Error) => void }>();
  process.on('message', (message: GaugeReply | StartMessage | PassRequest) => {
    if (message.type !== 'gauge') return;
    const pending = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.answer !== undefined) pending?.resolve(message.answer);
    else pending?.reject(new Error(`speed gauge: ${message.error}`));
  });
  return new GaugeClient(pids, (budgetMs) => {
    const id = nextId++;
    return new Promise<GaugeAnswer>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      send({ type: 'gauge', id, budgetMs }).catch(reject);
    });
  });
}

/** Pass requests from the bench not yet served, and the pass loop waiting for one. */
let requested = 0;
let wake: (() => void) | undefined;
process.on('message', (message: GaugeReply | StartMessage | PassRequest) => {
  if (message.type !== 'pass') return;
  requested++;
  wake?.();
});

function passRequested(): Promise<void> {
  if (requested > 0) {
    requested--;
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    wake = () => {
      wake = undefined;
      requested--;
      resolve();
    };
  });
}

async function main(start: StartMessage): Promise<void> {
  const { options } = start;
  const progress = new Progress(start.progress);
  let backend: BenchBackend | undefined;
  try {
    const loaded = await BACKEND_LOADERS[start.backend]({
      options: { ...options, backendsExplicit: true },
      tempDir: start.tempDir,
    });
    // The servers are the bench's: their CPU, and the bench's own, is not another tenant's.
    backend = { ...loaded, serverPids: () => start.ownPids };
    const data = createDataset(options.keys, options.valueSize, options.seed);
    const probe = data.keys[data.keys.length - 1]!;
    if ((await backend.larder.get(probe)) === undefined || (await backend.raw.get(probe)) === undefined) {
      await seed(backend, data, progress);
    }
    const gauge = start.gaugePids === null ? undefined : remoteGauge(start.gaugePids);
    const passes = new WorkloadPasses(backend, data, options, gauge, progress, start.where, start.only);
    if (passes.warmUpNext) await passes.next();
    await send({ type: 'ready' });
    for (;;) {
      await passRequested();
      if (!(await passes.next())) break;
      await send({ type: 'passed' });
    }
    await send({ type: 'done', ...passes.records() });
  } catch (error) {
    await send({ type: 'error', error: error instanceof Error ? error.message : String(error) });
  } finally {
    progress.close();
    await backend?.disconnect();
  }
}

// A bench that went away (killed, or it crashed) leaves nothing to measure for.
process.on('disconnect', () => process.exit(0));

process.once('message', (message: StartMessage) => {
  main(message).finally(() => {
    process.disconnect();
    process.exit(0);
  });
});
