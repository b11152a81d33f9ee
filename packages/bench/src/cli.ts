#!/usr/bin/env node
// `pnpm bench`: Larder over every available backend, beside the raw client doing the same work.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FatalSetupError } from './backends/index.js';
import { runBench } from './bench.js';
import { type CheckReport, checkResults } from './check.js';
import { compareRuns, renderComparison } from './compare.js';
import { runCleanups } from './lifecycle.js';
import { parseCommand, timestampDir, USAGE, UsageError } from './options.js';
import { Progress } from './progress.js';
import { renderMarkdown } from './report/markdown.js';
import { renderTerminal } from './report/terminal.js';
import type { BenchResults } from './types.js';

const print = (text: string) => process.stdout.write(`${text}\n`);

/** The workspace root: this file is packages/bench/dist/cli.js. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Prints a check report; returns the exit code (1 when there are problems). */
function printReport({ problems, warnings }: CheckReport, file: string): number {
  const list = (items: readonly string[]) => items.map((item) => `  - ${item}`).join('\n');
  if (warnings.length > 0) print(`Check warnings for ${file}:\n${list(warnings)}`);
  if (problems.length === 0) print(`Check passed: ${file}`);
  else process.stderr.write(`Check failed for ${file}:\n${list(problems)}\n`);
  return problems.length === 0 ? 0 : 1;
}

/** `--compare a b`: 2 when a file cannot be read, 2 when one fails its check, 1 when a ratio moved. */
function compareFiles(files: readonly [string, string]): number {
  const runs: BenchResults[] = [];
  for (const file of files) {
    try {
      runs.push(JSON.parse(readFileSync(file, 'utf8')) as BenchResults);
    } catch (error) {
      process.stderr.write(`Cannot read ${file}: ${(error as Error).message}\n`);
      return 2;
    }
    const report = checkResults(runs.at(-1));
    if (report.problems.length > 0) return printReport(report, file) + 1;
  }
  const comparison = compareRuns(runs[0]!, runs[1]!);
  print(`Comparing ${files[0]} (first) with ${files[1]} (second)\n\n${renderComparison(comparison)}`);
  return comparison.agrees ? 0 : 1;
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
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`pnpm bench: ${error.message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (command.kind === 'help') print(USAGE);
  if (command.kind === 'compare') return compareFiles(command.files);
  if (command.kind !== 'run') return 0;

  const { options } = command;
  const progress = new Progress();
  installSignalHandlers(progress);
  const outDir = resolve(options.outDir ?? join(REPO_ROOT, 'bench-results', timestampDir(new Date())));
  let results: BenchResults;
  try {
    results = await runBench(options, progress);
  } catch (error) {
    progress.close();
    await runCleanups();
    if (!(error instanceof FatalSetupError)) throw error;
    process.stderr.write(`pnpm bench: cannot start:\n${error.message}\n`);
    return 2;
  }
  progress.close();
  mkdirSync(outDir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(join(outDir, 'results.json'), json);
  writeFileSync(join(outDir, 'results.md'), renderMarkdown(results));
  writeFileSync(join(outDir, 'summary.txt'), `${renderTerminal(results)}\n`);
  print(`\n${renderTerminal(results)}\n`);
  const shown = relative(process.cwd(), outDir) || '.';
  print(`Results: ${join(shown, 'results.json')}, results.md, summary.txt`);
  return options.check ? printReport(checkResults(JSON.parse(json)), join(shown, 'results.json')) : 0;
}

main(process.argv.slice(2)).then(
  // Clients with keep-alive sockets would hold the process open; the work is done.
  (code) => process.exit(code),
  async (error: unknown) => {
    process.stderr.write(`pnpm bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
    await runCleanups();
    process.exit(1);
  },
);
