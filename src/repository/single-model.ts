// A repository folder that holds one model rather than model folders, as KServe's storage initializer
// leaves /mnt/models: a model folder (config.pbtxt or config.json and/or version folders) or a bare
// model file (e.g. model.onnx). Such a folder is served as one model under the name --model-name gives.

import { readdir } from 'node:fs/promises';
import type { BackendSpec } from './backend-spec.js';

/** A folder served as the single model `name`. */
export interface SingleModelRoot {
  dir: string;
  name: string;
  /** No version folders: the folder itself is version 1. */
  flat: boolean;
  /** flat: the model file in the folder, when its name is not a backend's default (e.g. digits.onnx). */
  file?: string;
}

/** A model repository: a folder of model folders, or a folder that is one model. */
export type RepositoryRoot = string | SingleModelRoot;

export const rootDir = (r: RepositoryRoot) => (typeof r === 'string' ? r : r.dir);

const CONFIG_FILES = ['config.pbtxt', 'config.json'];

/** What makes a folder look like one model rather than a repository, for messages; undefined: a repository. */
async function modelSigns(dir: string, backends: readonly BackendSpec[]) {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  // A folder that cannot be read is reported by the repository scan, as before.
  if (!entries) return undefined;
  const visible = entries.filter((e) => !e.name.startsWith('.'));
  const config = visible.find((e) => e.isFile() && CONFIG_FILES.includes(e.name))?.name;
  const versions = visible.filter((e) => e.isDirectory() && /^\d+$/.test(e.name)).map((e) => e.name);
  const isModelFile = (f: string) => backends.some((b) => b.files.includes(f) || (b.anyName && b.ownsFile(f)));
  const files = visible.filter((e) => e.isFile() && isModelFile(e.name)).map((e) => e.name).sort();
  if (!config && versions.length === 0 && files.length === 0) return undefined;
  const what = config ? `a ${config}` : versions.length ? `version folder${versions.length > 1 ? 's' : ''} ${versions.join(', ')}` : `model file ${files.join(', ')}`;
  return { config, versions, files, what };
}

/**
 * Each repository folder as given, or as one model when it holds a model folder's files at its top.
 * Throws a message naming the folder and what to do when the layout cannot be served.
 */
export async function openRepositories(dirs: readonly string[], modelName: string | undefined, backends: readonly BackendSpec[],
  log: (line: string) => void = () => {}): Promise<RepositoryRoot[]> {
  const roots: RepositoryRoot[] = [];
  const singles: string[] = [];
  for (const dir of dirs) {
    const signs = await modelSigns(dir, backends);
    if (!signs) {
      roots.push(dir);
      continue;
    }
    if (modelName === undefined) {
      throw new Error(`${dir} holds one model (${signs.what} at its top), not a repository of model folders: `
        + `give the model's name with --model-name (DUET_MODEL_NAME), or point --model-repository at the folder above it`);
    }
    singles.push(dir);
    const flat = signs.versions.length === 0;
    let file: string | undefined;
    if (flat) {
      const defaults = signs.files.filter((f) => backends.some((b) => b.files.includes(f)));
      const candidates = defaults.length ? defaults : signs.files;
      if (candidates.length === 0) {
        throw new Error(`${dir} has a ${signs.config} but no version folders (1/, 2/, ...) and no model file (${backends.flatMap((b) => b.files).join(', ')}, or a bare *.onnx)`);
      }
      if (candidates.length > 1) {
        throw new Error(`${dir} holds several model files (${candidates.join(', ')}) and no version folders: one model per folder, `
          + 'or a repository of model folders (<name>/<version>/<file>)');
      }
      file = candidates[0];
    }
    roots.push({ dir, name: modelName, flat, file });
    log(`model repository ${dir} is one model (${signs.what}), served as '${modelName}' (--model-name)`);
  }
  if (singles.length > 1) throw new Error(`--model-name names one model, but ${singles.join(' and ')} each hold a single model`);
  if (modelName !== undefined && singles.length === 0) {
    log(`--model-name '${modelName}' unused: ${dirs.join(', ')} ${dirs.length > 1 ? 'are repositories' : 'is a repository'} of model folders, whose models keep their folder names`);
  }
  return roots;
}
