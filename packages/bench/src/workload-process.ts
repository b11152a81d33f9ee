import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchBackend } from './backends/backend.js';
import type { CaseKey, WorkloadRecords } from './bench.js';
import { trackChild } from './lifecycle.js';
import type { ProgressMode } from './progress.js';
import type { GaugeAnswer, SpeedGauge } from './speed-gauge.js';
import type { BackendName, BenchOptions } from './types.js';

const CHILD = fileURLToPath(new URL('./workload-child.js', import.meta.url));

/** What the bench sends a workload process once, to start it. */
export interface StartMessage {
  type: 'start';
  backend: BackendName;
  /** The run's options, with `rounds` this process's share. */
  options: BenchOptions;
  /** The cases this process measures, when not all of them (a top-up process). */
  only?: CaseKey[];
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

/** The bench asks a workload process for its next pass. */
export interface PassRequest {
  type: 'pass';
}

/**
 * What a workload process reports: `ready` once connected and warmed up, `passed` after each
 * pass it ran, `done` with its records when it had no pass left (it then exits), or `error`.
 */
export type ResultMessage =
  | { type: 'ready' }
  | { type: 'passed' }
  | ({ type: 'done' } & WorkloadRecords)
  | { type: 'error'; error: string };

type Reply = Exclude<ResultMessage, { type: 'error' }>;

/**
 * One share of a backend's workload rounds (`processShare`) measured in a fresh Node process,
 * which reaches the server the bench started (or the embedded backend's files) on its own
 * connections and reads the speed gauge through this process. A process's start-up luck (heap
 * and code layout, JIT choices) and the host's speed at the time shift all its rounds
 * together; the bench pools the rounds of several processes so that one process's luck no
 * longer sets a median. The process runs one pass over the backend's cases each time `pass`
 * is called, and waits, connected but idle, in between: the bench lets the backends take
 * turns, pass by pass (`measureAllWorkloads` in bench.ts).
 */
export class WorkloadProcess {
  readonly #child: ChildProcess;
  #waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  /** Why the process can no longer answer, once it cannot. */
  #broken: Error | undefined;
  #records: WorkloadRecords | undefined;

  private constructor(
    backend: BenchBackend,
    start: Omit<StartMessage, 'type' | 'backend' | 'ownPids' | 'gaugePids'>,
    gauge: SpeedGauge | undefined,
  ) {
    const env = { ...process.env };
    if (backend.connection !== undefined) env[backend.connection.variable] = backend.connection.url;
    const child = fork(CHILD, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child = child;
    trackChild(child);
    child.on('message', (message: GaugeRequest | ResultMessage) => {
      if (message.type === 'gauge') this.#answerGauge(message, gauge);
      else if (message.type === 'error') this.#fail(new Error(message.error));
      else {
        if (message.type === 'done') this.#records = { records: message.records, failures: message.failures };
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting?.resolve(message);
      }
    });
    child.on('error', (error) => this.#fail(error));
    child.on('exit', (code, signal) => {
      this.#fail(new Error(`the workload process exited (${signal ?? `code ${code}`}) before it reported`));
    });
    child.send({
      type: 'start',
      backend: backend.name,
      ownPids: [process.pid, ...backend.serverPids()],
      gaugePids: gauge === undefined ? null : [...gauge.pids],
      ...start,
    } satisfies StartMessage);
  }

  /** Starts a workload process; resolves once it is connected and has run its warm-up pass. */
  static async start(
    backend: BenchBackend,
    start: Omit<StartMessage, 'type' | 'backend' | 'ownPids' | 'gaugePids'>,
    gauge: SpeedGauge | undefined,
  ): Promise<WorkloadProcess> {
    const started = new WorkloadProcess(backend, start, gauge);
    try {
      await started.#reply();
    } catch (error) {
      started.kill();
      throw error;
    }
    return started;
  }

  /**
   * Runs the process's next pass. Resolves false when it had no pass left: it has then
   * reported its records (`records`) and exits.
   */
  async pass(): Promise<boolean> {
    const reply = this.#reply();
    if (this.#child.connected) this.#child.send({ type: 'pass' } satisfies PassRequest);
    return (await reply).type === 'passed';
  }

  /** What the process measured, once `pass` has resolved false. */
  get records(): WorkloadRecords {
    if (this.#records === undefined) throw new Error('the workload process has not reported yet');
    return this.#records;
  }

  /** Stops the process, wherever it is. */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }

  #reply(): Promise<Reply> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  #fail(error: Error): void {
    if (this.#records !== undefined || this.#broken !== undefined) return;
    this.#broken = error;
    this.kill();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }

  #answerGauge(message: GaugeRequest, gauge: SpeedGauge | undefined): void {
    const reply = (answer: Omit<GaugeReply, 'type' | 'id'>) => {
      if (this.#child.connected)
        this.#child.send({ type: 'gauge', id: message.id, ...answer } satisfies GaugeReply);
    };
    if (gauge === undefined) reply({ error: 'this run has no speed gauge' });
    else
      gauge.waitForFullSpeed(message.budgetMs).then(
        (reading) => reply({ answer: { ...reading, best: [...gauge.best] } }),
        (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
      );
  }
}

/** Every pass of one share of a backend's rounds in a fresh process, one after another. */
export async function measureInProcess(
  backend: BenchBackend,
  start: Omit<StartMessage, 'type' | 'backend' | 'ownPids' | 'gaugePids'>,
  gauge: SpeedGauge | undefined,
): Promise<WorkloadRecords> {
  const worker = await WorkloadProcess.start(backend, start, gauge);
  let more = true;
  while (more) more = await worker.pass();
  return worker.records;
}
