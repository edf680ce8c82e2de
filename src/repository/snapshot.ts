// What a repository poll compares: one fingerprint per model folder, from the names, sizes and
// modification times of everything in it, so an edit to any file (config, labels, model) shows.

import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listModels } from './layout.js';
import { rootDir, type RepositoryRoot } from './single-model.js';

// Bounds on one folder's walk, so a deep or huge tree (or a symlink loop) cannot stall a poll.
const MAX_DEPTH = 6;
const MAX_ENTRIES = 10_000;

async function fingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  let seen = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    const entries = await readdir(join(dir, rel)).catch(() => [] as string[]);
    for (const name of entries.sort()) {
      if (++seen > MAX_ENTRIES) return;
      const p = join(rel, name);
      const st = await stat(join(dir, p)).catch(() => undefined);
      if (!st) continue;
      hash.update(`${p}\0${st.isDirectory() ? 'd' : st.size}\0${st.mtimeMs}\n`);
      if (st.isDirectory() && depth < MAX_DEPTH) await walk(p, depth + 1);
    }
  };
  await walk('', 0);
  return hash.digest('hex');
}

/**
 * Model folder name → fingerprint of its contents, across repositories; a name in two gets both
 * folders' prints, so the load that reports the clash is tried when either changes.
 */
export async function snapshotRepository(repoDirs: readonly RepositoryRoot[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const repo of repoDirs) {
    for (const n of await listModels(repo)) {
      const print = await fingerprint(typeof repo === 'string' ? join(repo, n) : rootDir(repo));
      out.set(n, out.has(n) ? `${out.get(n)}+${print}` : print);
    }
  }
  return out;
}
