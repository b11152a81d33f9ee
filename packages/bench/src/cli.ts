#!/usr/bin/env node
// `pnpm bench`: compares Larder over every available backend with the raw client beside it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommand, timestampDir, USAGE, UsageError } from './options.js';
import { FatalSetupError, runBench } from './bench.js';
import { type CheckReport, checkResults } from './check.js';
import { compareRuns, renderComparison } from './compare.js';
import { runCleanups } from './lifecycle.js';
import { Progress } from './progress.js';
import { renderMarkdown } from './report/markdown.js';
import { renderTerminal } from './report/terminal.js';
import type { BenchResults } from './types.js';

/** The workspace root (where pnpm-workspace.yaml is), else the current directory. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

/** Prints a check report; returns the exit code (1 when there are problems). */
function printReport({ problems, warnings }: CheckReport, file: string): number {
  const list = (items: readonly string[]) => items.map((item) => `  - ${item}`).join('\n');
  if (warnings.length > 0) process.stdout.write(`Check warnings for ${file}:\n${list(warnings)}\n`);
  if (problems.length === 0) {
    process.stdout.write(`Check passed: ${file}\n`);
    return 0;
  }
  process.stderr.write(`Check failed for ${file}:\n${list(problems)}\n`);
  return 1;
}

/** Reads a results file and checks its shape; says why and returns undefined when it cannot be read. */
function readResults(file: string): { data: unknown; report: CheckReport } | undefined {
  try {
    const data: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return { data, report: checkResults(data) };
  } catch (error) {
    process.stderr.write(`Cannot read ${file}: ${(error as Error).message}\n`);
    return undefined;
  }
}

function validateFile(file: string): number {
  const read = readResults(file);
  return read === undefined ? 1 : printReport(read.report, file);
}

function compareFiles(files: readonly [string, string]): number {
  const runs: BenchResults[] = [];
  for (const file of files) {
    const read = readResults(file);
    if (read === undefined) return 2;
    if (read.report.problems.length > 0) {
      printReport(read.report, file);
      return 2;
    }
    runs.push(read.data as BenchResults);
  }
  const comparison = compareRuns(runs[0]!, runs[1]!);
  process.stdout.write(
    `Comparing ${files[0]} (first) with ${files[1]} (second)\n\n${renderComparison(comparison)}\n`,
  );
  return comparison.agrees ? 0 : 1;
}

/** Writes results.json, results.md and summary.txt; returns the JSON text written. */
function writeResults(results: BenchResults, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(join(outDir, 'results.json'), json);
  writeFileSync(join(outDir, 'results.md'), renderMarkdown(results));
  writeFileSync(join(outDir, 'summary.txt'), `${renderTerminal(results)}\n`);
  return json;
}

function installSignalHandlers(progress: Progress): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (interrupted) process.exit(code);
    interrupted = true;
    progress.close();
    process.stderr.write(`\n${signal}: stopping the servers the bench started...\n`);
    void runCleanups().finally(() => process.exit(code));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function main(argv: readonly string[]): Promise<number> {
  let command: ReturnType<typeof parseCommand>;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`pnpm bench: ${error.message}\nRun with --help for the options.\n`);
      return 2;
    }
    throw error;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command.kind === 'validate') return validateFile(command.file);
  if (command.kind === 'compare') return compareFiles(command.files);

  const { options } = command;
  const progress = new Progress();
  installSignalHandlers(progress);
  const date = new Date();
  const outDir = resolve(options.outDir ?? join(repoRoot(), 'bench-results', timestampDir(date)));
  let results: BenchResults;
  try {
    results = await runBench(options, progress);
  } catch (error) {
    progress.close();
    await runCleanups();
    if (error instanceof FatalSetupError) {
      process.stderr.write(`pnpm bench: cannot start:\n${error.message}\n`);
      return 2;
    }
    throw error;
  }
  progress.close();
  const json = writeResults(results, outDir);
  process.stdout.write(`\n${renderTerminal(results)}\n\n`);
  const shown = relative(process.cwd(), outDir) || '.';
  process.stdout.write(`Results: ${join(shown, 'results.json')}, results.md, summary.txt\n`);
  if (options.check) {
    return printReport(checkResults(JSON.parse(json)), join(shown, 'results.json'));
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Clients with keep-alive sockets would hold the process open; the work is done.
    process.exit(code);
  },
  async (error: unknown) => {
    process.stderr.write(`pnpm bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
    await runCleanups();
    process.exit(1);
  },
);
