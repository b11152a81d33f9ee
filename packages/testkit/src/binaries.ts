import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds an executable by name in PATH and then in `extraDirs`; undefined when absent. */
export function findBinary(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The bin dirs of Debian's versioned Postgres installs, newest first. */
export function postgresBinDirs(): string[] {
  const dirs = ['/usr/local/bin', '/usr/local/pgsql/bin'];
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((entry) => /^\d+$/.test(entry))
      .sort((a, b) => Number(b) - Number(a));
    dirs.push(...versions.map((version) => `/usr/lib/postgresql/${version}/bin`));
  } catch {
    // no Debian layout
  }
  return dirs;
}
