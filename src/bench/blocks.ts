// BENCHMARKS.md holds hand-written prose and generated blocks; a bench run replaces only the blocks
// it measured, between their markers, so regenerating never touches the prose around them.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const beginMarker = (name: string) => `<!-- generated:${name} begin (duet bench writes this block; edit the prose outside it) -->`;
export const endMarker = (name: string) => `<!-- generated:${name} end -->`;

/**
 * `doc` with the block `name` holding `content`: replaced in place when its markers are there,
 * appended at the end when they are not. Throws on a begin without an end (a hand edit gone wrong).
 */
export function spliceGenerated(doc: string, name: string, content: string): string {
  const begin = beginMarker(name);
  const end = endMarker(name);
  const block = `${begin}\n\n${content.trim()}\n\n${end}`;
  const b = doc.indexOf(begin);
  if (b < 0) {
    if (doc.includes(end)) throw new Error(`${end} without its begin marker`);
    return `${doc.trimEnd()}${doc.trim() ? '\n\n' : ''}${block}\n`;
  }
  const e = doc.indexOf(end, b);
  if (e < 0) throw new Error(`${begin.slice(0, 40)}... has no end marker`);
  return doc.slice(0, b) + block + doc.slice(e + end.length);
}

/** Write blocks into a Markdown file (created with a title when missing). */
export function writeGenerated(file: string, blocks: [string, string][]): void {
  mkdirSync(dirname(file), { recursive: true });
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  for (const [name, content] of blocks) doc = spliceGenerated(doc, name, content);
  writeFileSync(file, doc);
}
