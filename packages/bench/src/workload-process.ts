import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchBackend } from './backends/backend.js';
import type { WorkloadRecords } from './bench.js';
import { trackChild } from './lifecycle.js';
import type { ProgressMode } from './progress.js';
import type { GaugeAnswer, SpeedGauge } from './speed-gauge.js';
import type { BackendName, BenchOptions } from './types.js';

const CHILD = fileURLToPath(new URL('./workload-child.js', import.meta.url));

/** What the bench sends a workload process once, to start it. */
export interface StartMessage {
  type: 'start';
  backend: BackendName;
  /** The run's options, with `rounds` and `maxRounds` this process's share. */
  options: BenchOptions;
  /** The run's temp dir, where an embedded backend's files are. */
  tempDir: string;
  /** This process's name in progress lines, e.g. " (process 2 of 2)". */
  where: string;
  /** Processes whose CPU time is the bench's own: the bench itself and the backend's servers. */
  ownPids: number[];
  /** The gauge's probe processes, or null when the run has no speed gauge. */
  gaugePids: number[] | null;
  progress: ProgressMode;
}

/** A workload process asks for a gauge reading, waiting up to `budgetMs` for full speed. */
export interface GaugeRequest {
  type: 'gauge';
  id: number;
  budgetMs: number;
}

/** The bench's answer to a `GaugeRequest`. */
export interface GaugeReply {
  type: 'gauge';
  id: number;
  answer?: GaugeAnswer;
  error?: string;
}

/** What a workload process reports before it exits. */
export type ResultMessage = ({ type: 'done' } & WorkloadRecords) | { type: 'error'; error: string };

/**
 * Measures one share of a backend's workload rounds (`processShare`) in a fresh Node process, which
 * reaches the server the bench started (or the embedded backend's files) on its own
 * connections and reads the speed gauge through this process. A process's start-up luck (heap
 * and code layout, JIT choices) and the host's speed at the time shift all its rounds
 * together; the bench pools the rounds of several processes, some minutes apart, so that one
 * process's luck no longer sets a median.
 */
export function measureInProcess(
  backend: BenchBackend,
  start: Omit<StartMessage, 'type' | 'backend' | 'ownPids' | 'gaugePids'>,
  gauge: SpeedGauge | undefined,
): Promise<WorkloadRecords> {
  const env = { ...process.env };
  if (backend.connection !== undefined) env[backend.connection.variable] = backend.connection.url;
  const child = fork(CHILD, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  trackChild(child);
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, records?: WorkloadRecords) => {
      if (settled) return;
      settled = true;
      if (error !== undefined) {
        child.kill('SIGKILL');
        reject(error);
      } else resolve(records!);
    };
    child.on('message', (message: GaugeRequest | ResultMessage) => {
      if (message.type === 'gauge') {
        const reply = (answer: Omit<GaugeReply, 'type' | 'id'>) => {
          if (child.connected) child.send({ type: 'gauge', id: message.id, ...answer } satisfies GaugeReply);
        };
        if (gauge === undefined) reply({ error: 'this run has no speed gauge' });
        else
          gauge.waitForFullSpeed(message.budgetMs).then(
            (reading) => reply({ answer: { ...reading, best: [...gauge.best] } }),
            (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
          );
      } else if (message.type === 'done') {
        finish(undefined, { records: message.records, failures: message.failures });
      } else {
        finish(new Error(message.error));
      }
    });
    child.on('error', (error) => finish(error));
    child.on('exit', (code, signal) => {
      finish(new Error(`the workload process exited (${signal ?? `code ${code}`}) before it reported`));
    });
    child.send({
      type: 'start',
      backend: backend.name,
      ownPids: [process.pid, ...backend.serverPids()],
      gaugePids: gauge === undefined ? null : [...gauge.pids],
      ...start,
    } satisfies StartMessage);
  });
}
