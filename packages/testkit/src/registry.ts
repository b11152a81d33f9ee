import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ServerKind } from './handle.js';

/** One server the testkit started, as recorded on disk so that other processes can check on it. */
export interface RegistryEntry {
  id: string;
  kind: ServerKind;
  port: number;
  dir: string;
  binary: string;
  /** The process that started the server (the test runner or worker). */
  ownerPid: number;
  /** The server process (also its process group). */
  pid: number;
  watchdogPid: number | undefined;
  startedAt: string;
}

/** A registry entry plus whether its server process still runs. */
export interface StartedServer extends RegistryEntry {
  running: boolean;
}

/** The folder holding one JSON file per server the testkit started on this machine. */
export const registryDir = join(tmpdir(), 'larder-testkit', 'servers');

/** The file that records the server `id`. */
export function entryPath(id: string): string {
  return join(registryDir, `${id}.json`);
}

/** Records (or updates) a started server. */
export function writeEntry(entry: RegistryEntry): void {
  mkdirSync(registryDir, { recursive: true });
  writeFileSync(entryPath(entry.id), JSON.stringify(entry));
}

/** Forgets a server (after it was stopped). */
export function removeEntry(id: string): void {
  rmSync(entryPath(id), { force: true });
}

/** True when `pid` runs and its command line names `binary` (guards against a recycled pid). */
export function isServerRunning(pid: number, binary: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+Z/m.test(status)) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(basename(binary));
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** Every server the registry knows about on this machine, with whether it still runs. */
export function listStartedServers(): StartedServer[] {
  let files: string[];
  try {
    files = readdirSync(registryDir).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
  const servers: StartedServer[] = [];
  for (const file of files) {
    try {
      const entry = JSON.parse(readFileSync(join(registryDir, file), 'utf8')) as RegistryEntry;
      servers.push({ ...entry, running: isServerRunning(entry.pid, entry.binary) });
    } catch {
      // half-written or just removed
    }
  }
  return servers;
}
