// Prints the README code block marked `<!-- quick-start: NAME -->` (the fenced block right
// after the marker), exactly as a reader would paste it. Used by .ci/pack-check and by the
// quick-start test, so both run the same text.
// Usage: node .ci/readme-blocks.mjs README.md memory
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The code of the block marked `name`, or throws naming the markers that exist. */
export function quickStartBlock(readme, name) {
  const blocks = new Map();
  for (const match of readme.matchAll(/<!-- quick-start: ([\w-]+) -->\n```\w*\n([\s\S]*?)\n```/g)) {
    blocks.set(match[1], `${match[2]}\n`);
  }
  const code = blocks.get(name);
  if (code === undefined) {
    throw new Error(`no quick-start block "${name}" in the README (found: ${[...blocks.keys()].join(', ')})`);
  }
  return code;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, name] = process.argv.slice(2);
  process.stdout.write(quickStartBlock(readFileSync(file, 'utf8'), name));
}
