import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * The code of the Markdown block marked `<!-- quick-start: name -->` (the fenced block right
 * after the marker), exactly as a reader would paste it. Throws naming the markers found.
 * Used by the quick-start test and by .ci/pack-check, so both run the same text.
 */
export function readmeBlock(markdown: string, name: string): string {
  const blocks = new Map<string, string>();
  for (const match of markdown.matchAll(/<!-- quick-start: ([\w-]+) -->\n```\w*\n([\s\S]*?)\n```/g)) {
    blocks.set(match[1] ?? '', `${match[2] ?? ''}\n`);
  }
  const code = blocks.get(name);
  if (code === undefined) {
    throw new Error(
      `no block marked "quick-start: ${name}" (found: ${[...blocks.keys()].join(', ') || 'none'})`,
    );
  }
  return code;
}

// `node readme-block.js README.md memory` prints the block.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file = '', name = ''] = process.argv.slice(2);
  process.stdout.write(readmeBlock(readFileSync(file, 'utf8'), name));
}
