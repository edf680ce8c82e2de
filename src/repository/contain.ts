// Containment: every file a model config names must stay inside that model's folder in the repository.
// A config can come from a load request, so a path in it is untrusted input: no absolute paths, no '..',
// and no symlink that leads out of the repository.

import { realpath } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { invalidArg } from '../core/errors.js';

/** Where a named file must stay: its model's folder (which may itself be a symlink placed in the repository). */
export interface ModelPlace {
  model: string;
  repoDir: string;
  modelDir: string;
}

const inside = (root: string, p: string) => {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * Checks a config value naming a file, before any file system access: relative, no '..' segment, no NUL.
 * Returns the joined path under `base` (a folder inside the model's folder).
 */
export function namedPath(place: ModelPlace, field: string, value: string, base: string): string {
  const bad = (why: string) => invalidArg(`model '${place.model}': ${field} '${value}' ${why}; it must name a file inside the model's folder`);
  if (value.includes('\0')) throw bad('contains a NUL character');
  if (isAbsolute(value) || /^[a-zA-Z]:|^[\\/]/.test(value)) throw bad('is an absolute path');
  if (value.split(/[\\/]/).includes('..')) throw bad("contains '..'");
  const p = join(base, normalize(value));
  if (!inside(place.modelDir, p)) throw bad('leaves the model folder');
  return p;
}

/**
 * The real path of an existing file inside the model's folder, after symlinks. A symlink may lead to
 * another place in the repository or inside the model's own (possibly symlinked) folder, nowhere else.
 * Rejects with the file system error (e.g. ENOENT) when the file is missing.
 */
export async function containedRealPath(place: ModelPlace, field: string, path: string): Promise<string> {
  const real = await realpath(path);
  const roots = await Promise.all([place.modelDir, place.repoDir].map((d) => realpath(d).catch(() => undefined)));
  if (!roots.some((r) => r !== undefined && inside(r, real))) {
    const shown = relative(place.modelDir, path).split(sep).join('/');
    throw invalidArg(`model '${place.model}': ${field} '${shown}' is a symlink that leads outside the model repository; it must name a file inside the model's folder`);
  }
  return real;
}
