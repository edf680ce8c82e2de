// Reading a model repository in Triton's layout: <repo>/<model>/config.pbtxt|config.json and
// <repo>/<model>/<version>/<model file>.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../core/model-config.js';
import { parseModelConfig } from './config.js';
import { applyDefaults } from './config-defaults.js';
import { containedRealPath, namedPath, type ModelPlace } from './contain.js';
import type { BackendSpec } from './backend-spec.js';
import type { RepositoryRoot } from './single-model.js';

export interface ModelSource {
  name: string;
  dir: string;
  /** Parsed from the config file; undefined when the model has none (auto-complete fills it). */
  config: ModelConfig | undefined;
  configFile?: string;
  /** Numeric version folders present on disk, ascending. */
  versions: number[];
  /** A single model without version folders: version 1 is `dir` itself. */
  flat?: boolean;
  /** flat: its model file, found by the repository scan. */
  file?: string;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Model folder names in the repository, sorted; hidden entries are skipped. A single-model root holds its one name. */
export async function listModels(repo: RepositoryRoot): Promise<string[]> {
  if (typeof repo !== 'string') return [repo.name];
  const repoDir = repo;
  const entries = await readdir(repoDir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    // A symlinked model folder counts as a folder.
    if (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(repoDir, e.name)).then((s) => s.isDirectory(), () => false)))) names.push(e.name);
  }
  return names.sort();
}

/** Model folder names across several repositories, sorted, each once. */
export async function listRepositories(repoDirs: readonly RepositoryRoot[]): Promise<string[]> {
  const lists = await Promise.all(repoDirs.map((d) => listModels(d)));
  return [...new Set(lists.flat())].sort();
}

/** The repository holding a model folder (the first one when none does, for its error message). */
export async function repositoryOf(repoDirs: readonly RepositoryRoot[], name: string): Promise<RepositoryRoot> {
  const holders: RepositoryRoot[] = [];
  for (const d of repoDirs) if ((await listModels(d).catch(() => [] as string[])).includes(name)) holders.push(d);
  if (holders.length > 1) {
    throw new Error(`model '${name}' is in more than one model repository: ${holders.map((d) => (typeof d === 'string' ? join(d, name) : d.dir)).join(' and ')}`);
  }
  return holders[0] ?? repoDirs[0]!;
}

/** Read one model's folder. Throws with the reason when its config cannot be parsed. */
export async function readModelSource(repo: RepositoryRoot, name: string, maxInstances?: number): Promise<ModelSource> {
  const single = typeof repo === 'string' ? undefined : repo;
  if (single && single.name !== name) throw new Error(`no model folder '${name}' in the model repository`);
  const repoDir = single ? single.dir : repo as string;
  const dir = single ? single.dir : join(repoDir, name);
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    // Messages reach clients: they name the model, never the server's paths.
    throw new Error(e.code === 'ENOENT' ? `no model folder '${name}' in the model repository` : `model folder '${name}' cannot be read (${e.code})`);
  });
  const versions = entries
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
  let config: ModelConfig | undefined;
  let configFile: string | undefined;
  for (const [file, format] of [['config.pbtxt', 'pbtxt'], ['config.json', 'json']] as const) {
    const p = join(dir, file);
    if (await exists(p)) {
      await containedRealPath({ model: name, repoDir, modelDir: dir }, file, p);
      config = parseModelConfig(await readFile(p, 'utf8'), format, `${name}/${file}`);
      configFile = p;
      break;
    }
  }
  // A single model takes --model-name's name, whatever its config says (KServe names it after the InferenceService).
  if (config && single) config.name = name;
  if (config) {
    if (config.name && config.name !== name) {
      throw new Error(`${name}/${configFile?.endsWith('json') ? 'config.json' : 'config.pbtxt'}: name '${config.name}' does not match the folder name '${name}'`);
    }
    config = applyDefaults(config, name, maxInstances);
  }
  if (single?.flat) return { name, dir, config, configFile, versions: [1], flat: true, file: single.file };
  return { name, dir, config, configFile, versions };
}

/** Which versions to serve under a version policy (Triton's default: the latest one). */
export function selectVersions(config: ModelConfig, available: number[]): number[] {
  const policy = config.version_policy ?? { latest: { num_versions: 1 } };
  if ('all' in policy) return available.slice();
  if ('specific' in policy) {
    const wanted = new Set(policy.specific.versions.map(Number));
    return available.filter((v) => wanted.has(v));
  }
  const n = Math.max(1, Number(policy.latest.num_versions ?? 1));
  return available.slice(-n);
}

/**
 * Refuses a config whose file names would leave the model's folder, before anything is read or started:
 * default_model_filename (inside a version folder) and each output's label_filename (in the model folder).
 */
export function checkConfigPaths(config: ModelConfig | undefined, place: ModelPlace): void {
  if (!config) return;
  if (config.default_model_filename) namedPath(place, 'default_model_filename', config.default_model_filename, join(place.modelDir, '1'));
  for (const o of config.output ?? []) {
    if (o.label_filename) namedPath(place, `output '${o.name}' label_filename`, o.label_filename, place.modelDir);
  }
}

/** The backend and model file of one version folder; the file's real path, checked to stay in the repository. */
export async function findModelFile(
  config: ModelConfig | undefined,
  versionDir: string,
  place: ModelPlace,
  backends: readonly BackendSpec[],
  /** A file the repository scan found (a single model's bare file), looked for after the config's and the defaults. */
  found?: string,
): Promise<{ kind: string; file: string }> {
  const name = (config?.backend || config?.platform || '').toLowerCase();
  const chosen = name ? backends.filter((b) => b.names.includes(name)) : backends;
  if (chosen.length === 0) {
    throw new Error(`unsupported backend '${name}' (this server runs ${backends.map((b) => `'${b.complete.backend}'`).join(' and ')} models)`);
  }
  const explicit = config?.default_model_filename;
  const candidates: [string, string, string][] = [];
  if (explicit) {
    const owner = chosen.length === 1 ? chosen[0]! : chosen.find((b) => b.ownsFile(explicit)) ?? chosen[0]!;
    candidates.push([owner.kind, explicit, namedPath(place, 'default_model_filename', explicit, versionDir)]);
  }
  for (const b of chosen) for (const f of b.files) candidates.push([b.kind, f, join(versionDir, f)]);
  const owner = found === undefined ? undefined : chosen.find((b) => b.ownsFile(found));
  if (found !== undefined && owner) candidates.push([owner.kind, found, join(versionDir, found)]);
  for (const [kind, f, p] of candidates) {
    if (await exists(p)) return { kind, file: await containedRealPath(place, f === explicit ? 'default_model_filename' : 'model file', p) };
  }
  throw new Error(`no model file in ${versionDir} (looked for ${candidates.map((c) => c[1]).join(', ')})`);
}

/** An output's class labels, one a line, from a file that must stay inside the model's folder. */
export async function readLabels(place: ModelPlace, output: string, fileName: string): Promise<string[]> {
  const field = `output '${output}' label_filename`;
  const path = namedPath(place, field, fileName, place.modelDir);
  const real = await containedRealPath(place, field, path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new Error(`output '${output}': label file '${fileName}' not found in the model's folder`);
    throw e;
  });
  const text = await readFile(real, 'utf8');
  return text.split(/\r?\n/).filter((l, i, a) => l !== '' || i < a.length - 1);
}
