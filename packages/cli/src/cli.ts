#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CacheConfigError, CacheError } from '@larder/core';
import { doctor, formatReport } from './doctor.js';
import { parseTarget, scrub } from './target.js';
import { formatTtlAudit, ttlAudit } from './ttl-audit.js';
import { loadWarmModule, progressBar, warm } from './warm.js';

const USAGE = `usage:
  larder doctor <url> [--json] [--sample n] [--table name] [--insecure]
  larder ttl-audit <url> [--prefix p] [--sample n] [--json] [--table name] [--insecure]
  larder warm <module> [--concurrency n] [--json]

<url>: redis://[:password@]host:port, rediss://..., memcached://host:port,
       postgres://user[:password]@host/db, or a SQLite file path (sqlite:path)
exit codes: 0 done, 1 a doctor check failed (or a warm entry was not stored), 2 could not run`;

/** Runs the CLI; resolves the exit code. Output goes through `scrub`, so no password is ever printed. */
export async function main(argv: string[]): Promise<number> {
  let secret = '';
  const out = (text: string) => process.stdout.write(scrub(text, secret));
  const err = (text: string) => process.stderr.write(scrub(text, secret));
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        sample: { type: 'string' },
        prefix: { type: 'string' },
        table: { type: 'string' },
        concurrency: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const [command, subject, ...extra] = positionals;
    if (values.help || command === undefined) {
      out(`${USAGE}\n`);
      return values.help ? 0 : 2;
    }
    if (subject === undefined || extra.length > 0) {
      err(`larder: ${command} takes exactly one ${command === 'warm' ? 'module path' : 'URL'}\n${USAGE}\n`);
      return 2;
    }
    const sample = values.sample === undefined ? undefined : integer('--sample', values.sample);
    if (command === 'doctor' || command === 'ttl-audit') {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(subject)) secret = safeSecret(subject);
    }
    switch (command) {
      case 'doctor': {
        const report = await doctor(subject, { sample, table: values.table, insecure: values.insecure });
        out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
        return report.checks.some((c) => c.status === 'FAIL') ? 1 : 0;
      }
      case 'ttl-audit': {
        const report = await ttlAudit(subject, {
          prefix: values.prefix,
          sample,
          table: values.table,
          insecure: values.insecure,
        });
        out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatTtlAudit(report));
        return 0;
      }
      case 'warm': {
        const module = await loadWarmModule(subject);
        const tty = process.stderr.isTTY === true;
        const concurrency =
          values.concurrency === undefined ? undefined : integer('--concurrency', values.concurrency);
        const report = await warm(module, {
          concurrency,
          onProgress: (done, total) => {
            if (tty) err(`\r${progressBar(done, total)}`);
            else if (done === total) err(`${progressBar(done, total)}\n`);
          },
        });
        if (tty) err('\n');
        await module.cache.close();
        out(
          values.json
            ? `${JSON.stringify(report, null, 2)}\n`
            : `warmed ${report.written} of ${report.total} entries in ${Math.round(report.ms)} ms${report.skipped > 0 ? `; ${report.skipped} loaders returned nothing` : ''}${report.failed > 0 ? `; ${report.failed} not stored (see the cache's logs)` : ''}${report.stoppedEarly === undefined ? '' : `; stopped early: ${report.stoppedEarly}`}\n`,
        );
        return report.failed > 0 || report.stoppedEarly !== undefined ? 1 : 0;
      }
      default:
        err(`larder: unknown command "${command}"; use doctor, ttl-audit or warm\n`);
        return 2;
    }
  } catch (error) {
    // One line, no stack: the message of a CacheError says what to change.
    const message = (error as Error)?.message ?? String(error);
    err(
      `larder: ${error instanceof CacheError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS') ? '' : 'unexpected error: '}${message.split('\n')[0]}\n`,
    );
    return 2;
  }
}

function integer(name: string, text: string): number {
  const value = Number(text);
  if (!(Number.isInteger(value) && value > 0)) {
    throw new CacheConfigError(`${name} ${text} must be a positive integer`);
  }
  return value;
}

function safeSecret(url: string): string {
  try {
    return parseTarget(url).secret;
  } catch {
    return '';
  }
}

// Exit once the output is flushed: a user's warm module may leave handles open.
const exit = (code: number) =>
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
main(process.argv.slice(2)).then(exit, () => exit(2));
