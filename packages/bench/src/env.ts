import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A package's installed version (found from its entry point, since `exports` may hide package.json). */
export function packageVersion(name: string): string | undefined {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve(name)));
    for (; dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      const pkg: { name?: string; version?: string } = existsSync(file)
        ? JSON.parse(readFileSync(file, 'utf8'))
        : {};
      if (pkg.name === name) return pkg.version;
    }
  } catch {
    // not installed
  }
  return undefined;
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty) return `${pretty} (${type()} ${release()})`;
  } catch {
    // not Linux, or no os-release
  }
  return `${type()} ${release()}`;
}

const CLIENTS = ['ioredis', 'memjs', 'pg', 'better-sqlite3'];

/** Where the run happened: date, Node, CPU, OS, load and the client library versions. */
export function describeEnvironment(date: Date, peers: readonly string[] = []) {
  const versions = [...CLIENTS, ...peers].map((name) => [name, packageVersion(name)] as const);
  const packages = Object.fromEntries(versions.filter(([, version]) => version !== undefined));
  return {
    date: date.toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    os: osName(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpuCores: availableParallelism(),
    totalMemoryBytes: totalmem(),
    loadAverage: loadavg(),
    packages,
  };
}
