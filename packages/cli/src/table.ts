import { CacheConfigError } from '@larder/core';
import { type DoctorCheck, pass, percent, warn } from './check.js';

/** The cache table's name, checked and quoted so no option can inject SQL. */
export function quoteTable(name: string, allowSchema: boolean): string {
  const part = '[A-Za-z_][A-Za-z0-9_]{0,62}';
  const valid = new RegExp(allowSchema ? `^${part}(\\.${part})?$` : `^${part}$`);
  if (!valid.test(name)) {
    throw new CacheConfigError(
      `--table "${name}" is not a valid table name; use letters, digits and _${allowSchema ? ' (schema.table allowed)' : ''}`,
    );
  }
  return name
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
}

/** Live rows and expired rows still waiting for the store's pruning. */
export function rowChecks(rows: number, expired: number): DoctorCheck[] {
  const rowsCheck = pass('rows', `${rows} rows`);
  if (expired === 0) return [rowsCheck, pass('expired-rows', 'no expired rows waiting for pruning')];
  const read = `${expired} expired rows waiting for pruning (${percent(expired, rows)})`;
  return [
    rowsCheck,
    expired / rows > 0.2
      ? warn(
          'expired-rows',
          read,
          'prune more often (the store’s pruneInterval) or keep the app process that prunes running',
        )
      : pass('expired-rows', read),
  ];
}
