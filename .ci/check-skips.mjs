// Fails the CI run when a test was skipped that .ci/allowed-skips does not list.
// A skip is fine when a case does not apply to a backend (a capability it declares it lacks);
// a test that proves a promise must fail under CI when it cannot run, never skip.
import { readFileSync } from 'node:fs';

const [resultsPath, allowedPath] = process.argv.slice(2);
const results = JSON.parse(readFileSync(resultsPath, 'utf8'));
const allowed = readFileSync(allowedPath, 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => new RegExp(line));

const skipped = [];
for (const file of results.testResults) {
  for (const test of file.assertionResults) {
    if (test.status === 'skipped' || test.status === 'pending' || test.status === 'todo') {
      skipped.push(`${[...test.ancestorTitles, test.title].join(' > ')}`);
    }
  }
}
const unexplained = skipped.filter((name) => !allowed.some((pattern) => pattern.test(name)));
console.log(
  `${skipped.length} skipped tests, all listed in ${allowedPath}` + (unexplained.length ? ' except:' : ''),
);
for (const name of unexplained) console.log(`  not allowed to skip: ${name}`);
process.exit(unexplained.length === 0 ? 0 : 1);
