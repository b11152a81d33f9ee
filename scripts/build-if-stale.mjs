// `pnpm bench` and `pnpm demo` run the built code: build first, unless every package's dist/ is
// newer than its sources (src, package.json, tsconfig) and the shared config. A second run of the
// bench then starts at once instead of spending ~30 s recompiling what has not changed.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const shared = ['tsconfig.base.json', 'pnpm-lock.yaml'].map((file) => join(root, file));
const packages = [
  ...readdirSync(join(root, 'packages')).map((name) => join(root, 'packages', name)),
  join(root, 'examples', 'shop'),
].filter((dir) => existsSync(join(dir, 'package.json')));

/** Every file's mtime under `path` (a file or a directory). */
function mtimes(path) {
  if (!existsSync(path)) return [];
  const stat = statSync(path);
  if (!stat.isDirectory()) return [stat.mtimeMs];
  return readdirSync(path).flatMap((name) => mtimes(join(path, name)));
}

function stale(dir) {
  const built = mtimes(join(dir, 'dist'));
  if (built.length === 0) return true;
  const sources = [
    ...mtimes(join(dir, 'src')),
    ...readdirSync(dir)
      .filter((name) => name === 'package.json' || name.startsWith('tsconfig'))
      .flatMap((name) => mtimes(join(dir, name))),
    ...shared.flatMap(mtimes),
  ];
  return Math.max(...sources) > Math.min(...built);
}

if (packages.some(stale)) {
  execFileSync('pnpm', ['-s', 'build'], { cwd: root, stdio: 'inherit' });
}
