import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import type { Environment } from './types.js';

const require = createRequire(import.meta.url);

function packageVersion(name: string): string | undefined {
  try {
    const path = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1];
    if (pretty) return `${pretty} (${type()} ${release()})`;
  } catch {
    // not Linux, or no os-release
  }
  return `${type()} ${release()}`;
}

/** Where the run happened: date, Node, CPU, OS and the client library versions. */
export function describeEnvironment(date: Date): Environment {
  const packages: Record<string, string> = {};
  for (const name of ['tinybench', 'ioredis', 'memjs', 'pg', 'better-sqlite3']) {
    const version = packageVersion(name);
    if (version !== undefined) packages[name] = version;
  }
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
