import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServerUnavailableError } from './errors.js';
import type { ServerHandle, ServerKind } from './handle.js';
import { freePort, isPortFree } from './ports.js';
import { entryPath, removeEntry, writeEntry } from './registry.js';
import { startWatchdog } from './watchdog.js';

/** How to run one kind of server from a local binary. */
export interface LaunchSpec {
  kind: ServerKind;
  binary: string;
  /** The temp dir the server owns; removed on stop. */
  dir: string;
  args(port: number): string[];
  url(host: string, port: number): string;
  /** Resolves with the server's own version once it answers a real command; rejects while it does not. */
  probe(port: number): Promise<string>;
  /** Run as this user (Postgres refuses to run as root). */
  user?: { uid: number; gid: number } | undefined;
  readyTimeoutMs: number;
  /** The signal for a graceful stop. */
  stopSignal: NodeJS.Signals;
  /** What to install when the binary is missing or broken. */
  fix: string;
}

const host = '127.0.0.1';
const stopGraceMs = 5_000;
const live = new Set<LocalServer>();

/** A server process the testkit started and owns: one temp dir, one port, one watchdog. */
export class LocalServer implements ServerHandle {
  readonly kind: ServerKind;
  readonly host = host;
  readonly source = 'local' as const;
  readonly #spec: LaunchSpec;
  readonly #id = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  readonly #logFile: string;
  readonly #pidFile: string;
  #port = 0;
  #version = '';
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #watchdogPid: number | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(spec: LaunchSpec) {
    this.kind = spec.kind;
    this.#spec = spec;
    this.#logFile = join(spec.dir, 'server.log');
    this.#pidFile = join(spec.dir, 'server.pid');
  }

  /** Starts the server on a free port (trying another one if the port gets taken meanwhile). */
  static async start(spec: LaunchSpec): Promise<LocalServer> {
    const server = new LocalServer(spec);
    for (let attempt = 1; ; attempt++) {
      try {
        await server.#launch(await freePort(host));
        return server;
      } catch (error) {
        if (error instanceof PortTakenError && attempt < 3) continue;
        await server.stop();
        throw error;
      }
    }
  }

  get url(): string {
    return this.#spec.url(host, this.#port);
  }
  get port(): number {
    return this.#port;
  }
  get version(): string {
    return this.#version;
  }
  /** The pid of the latest server process (also its process group id). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  /** The temp dir the server owns (removed on stop). */
  get dir(): string {
    return this.#spec.dir;
  }
  /** The server's log file (stdout and stderr). */
  get logFile(): string {
    return this.#logFile;
  }

  get #running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async kill(): Promise<void> {
    this.#assertNotStopped('kill');
    if (!this.#running) return;
    this.#signal('SIGKILL');
    await this.#exited;
  }

  async pause(): Promise<void> {
    this.#assertNotStopped('pause');
    this.#assertRunning('pause');
    this.#signal('SIGSTOP');
  }

  async resume(): Promise<void> {
    this.#assertNotStopped('resume');
    this.#assertRunning('resume');
    this.#signal('SIGCONT');
  }

  async restart(): Promise<void> {
    this.#assertNotStopped('restart');
    if (this.#running) await this.#terminate();
    if (!(await isPortFree(this.#port, host))) {
      throw new ServerUnavailableError(
        this.kind,
        `cannot restart on port ${this.#port}: another process took it after the server went down`,
        'run fault tests on a machine without other services grabbing ephemeral ports, or start a new server',
      );
    }
    try {
      await this.#launch(this.#port);
    } catch (error) {
      if (error instanceof PortTakenError) {
        throw new ServerUnavailableError(
          this.kind,
          `cannot restart on port ${this.#port}: the port is in use by another process`,
          'start a new server instead of restarting this one',
        );
      }
      throw error;
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      live.delete(this);
      if (this.#running) await this.#terminate();
      if (this.#watchdogPid !== undefined) signalTree(this.#watchdogPid, 'SIGKILL');
      await rm(this.#spec.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      removeEntry(this.#id);
    })();
    return this.#stopping;
  }

  /** Synchronous last-resort cleanup for process exit: SIGKILL, leave the dir to the watchdog. */
  killSync(): void {
    if (this.#running) {
      this.#signal('SIGCONT');
      this.#signal('SIGKILL');
    }
    try {
      rmSync(this.#spec.dir, { recursive: true, force: true });
    } catch {
      // the watchdog removes it once this process is gone
    }
  }

  async #terminate(): Promise<void> {
    this.#signal('SIGCONT');
    this.#signal(this.#spec.stopSignal);
    const exited = await Promise.race([this.#exited.then(() => true), sleep(stopGraceMs, false)]);
    if (!exited) {
      this.#signal('SIGKILL');
      await this.#exited;
    }
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid !== undefined) signalTree(pid, signal);
  }

  #assertNotStopped(method: string): void {
    if (this.#stopping) throw new Error(`${method}() on a ${this.kind} server that was stopped`);
  }

  #assertRunning(method: string): void {
    if (!this.#running)
      throw new Error(`${method}() on a ${this.kind} server that is not running; restart() it first`);
  }

  async #launch(port: number): Promise<void> {
    const spec = this.#spec;
    this.#port = port;
    let logStart = 0;
    try {
      logStart = statSync(this.#logFile).size;
    } catch {
      // first launch
    }
    const logFd = openSync(this.#logFile, 'a');
    let child: ChildProcess;
    try {
      // detached: the server leads its own process group, so signals reach Postgres' backends too,
      // and a Ctrl-C in the terminal does not race our own cleanup
      child = spawn(spec.binary, spec.args(port), {
        cwd: spec.dir,
        detached: true,
        stdio: ['ignore', logFd, logFd],
        ...(spec.user ?? {}),
      });
    } finally {
      closeSync(logFd);
    }
    child.unref();
    this.#child = child;
    let exitInfo = '';
    let spawnError: Error | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
      child.once('error', (error) => {
        spawnError = error;
        exitInfo = `could not be started: ${error.message}`;
        resolve();
      });
    });
    if (child.pid === undefined) {
      await this.#exited;
      throw new ServerUnavailableError(spec.kind, `${spec.binary} ${exitInfo}`, spec.fix, {
        cause: spawnError,
      });
    }
    writeFileSync(this.#pidFile, String(child.pid));
    this.#watchdogPid ??= startWatchdog(this.#pidFile, spec.dir, entryPath(this.#id));
    writeEntry({
      id: this.#id,
      kind: spec.kind,
      port,
      dir: spec.dir,
      binary: spec.binary,
      ownerPid: process.pid,
      pid: child.pid,
      watchdogPid: this.#watchdogPid,
      startedAt: new Date().toISOString(),
    });
    live.add(this);
    installExitHooks();

    const deadline = Date.now() + spec.readyTimeoutMs;
    let exited = false;
    void this.#exited.then(() => {
      exited = true;
    });
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (exited) break;
      try {
        const version = await spec.probe(port);
        if (this.#running) {
          this.#version = version;
          return;
        }
      } catch (error) {
        lastError = error;
      }
      await Promise.race([sleep(50), this.#exited]);
    }
    if (exited) {
      const log = readLog(this.#logFile, logStart);
      if (/address already in use/i.test(log)) {
        throw new PortTakenError(`${spec.kind} could not listen on port ${port}: address already in use`);
      }
      throw new ServerUnavailableError(
        spec.kind,
        `${spec.binary} ${exitInfo} while starting on port ${port}. Log tail:\n${tail(log)}`,
        spec.fix,
      );
    }
    this.#signal('SIGKILL');
    await this.#exited;
    const cause = lastError instanceof Error ? ` (last probe: ${lastError.message})` : '';
    throw new ServerUnavailableError(
      spec.kind,
      `${spec.binary} did not answer on port ${port} within ${spec.readyTimeoutMs} ms${cause}. Log tail:\n${tail(readLog(this.#logFile, logStart))}`,
      spec.fix,
    );
  }
}

/** The port a fresh start wanted was taken by someone else before the server bound it. */
class PortTakenError extends Error {}

/** The pids of every descendant of `pid` (Linux /proc; empty elsewhere). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const siblings = children.get(ppid) ?? [];
      siblings.push(Number(entry));
      children.set(ppid, siblings);
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * Signals a server and all its descendants: its process group, plus each child by pid, because
 * Postgres backends leave the postmaster's group (setsid) yet must stop and die with it.
 */
function signalTree(pid: number, signal: NodeJS.Signals): void {
  const tree = descendants(pid);
  for (const target of [-pid, pid, ...tree]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

function readLog(file: string, from: number): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

function tail(log: string, lines = 20): string {
  const text = log.trimEnd().split('\n').slice(-lines).join('\n');
  return text || '(empty log)';
}

let hooksInstalled = false;

function killAllSync(): void {
  for (const server of live) server.killSync();
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllSync();
      // when nobody else handles the signal, keep its default meaning: terminate
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
