// Reading a model repository in Triton's layout: <repo>/<model>/config.pbtxt|config.json and
// <repo>/<model>/<version>/<model file>.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../core/model-config.js';
import { applyDefaults, parseModelConfig } from './config.js';

export interface ModelSource {
  name: string;
  dir: string;
  /** Parsed from the config file; undefined when the model has none (auto-complete fills it). */
  config: ModelConfig | undefined;
  configFile?: string;
  /** Numeric version folders present on disk, ascending. */
  versions: number[];
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Model folder names in the repository, sorted; hidden entries are skipped. */
export async function listModels(repoDir: string): Promise<string[]> {
  const entries = await readdir(repoDir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    // A symlinked model folder counts as a folder.
    if (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(repoDir, e.name)).then((s) => s.isDirectory(), () => false)))) names.push(e.name);
  }
  return names.sort();
}

/** Read one model's folder. Throws with the reason when its config cannot be parsed. */
export async function readModelSource(repoDir: string, name: string): Promise<ModelSource> {
  const dir = join(repoDir, name);
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? `no model folder '${name}' in ${repoDir}` : e.message);
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
      config = parseModelConfig(await readFile(p, 'utf8'), format, `${name}/${file}`);
      configFile = p;
      break;
    }
  }
  if (config) {
    if (config.name && config.name !== name) {
      throw new Error(`${name}/${configFile?.endsWith('json') ? 'config.json' : 'config.pbtxt'}: name '${config.name}' does not match the folder name '${name}'`);
    }
    config = applyDefaults(config, name);
  }
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

const TS_FILES = ['model.ts', 'model.mts', 'model.js', 'model.mjs'];

/** The backend and model file of one version folder. */
export async function findModelFile(
  config: ModelConfig | undefined,
  versionDir: string,
): Promise<{ kind: 'onnx' | 'typescript'; file: string }> {
  const backend = (config?.backend || config?.platform || '').toLowerCase();
  const explicit = config?.default_model_filename;
  const isTs = backend === 'typescript' || backend === 'javascript';
  const isOnnx = backend === 'onnxruntime' || backend === 'onnxruntime_onnx' || backend === 'onnx';
  if (backend && !isTs && !isOnnx) {
    throw new Error(`unsupported backend '${backend}' (this server runs 'onnxruntime' and 'typescript' models)`);
  }
  const candidates: [('onnx' | 'typescript'), string][] = [];
  if (explicit) candidates.push([isTs || /\.[cm]?[jt]s$/.test(explicit) ? 'typescript' : 'onnx', explicit]);
  if (!isTs) candidates.push(['onnx', 'model.onnx']);
  if (!isOnnx) for (const f of TS_FILES) candidates.push(['typescript', f]);
  for (const [kind, f] of candidates) {
    const p = join(versionDir, f);
    if (await exists(p)) return { kind, file: p };
  }
  throw new Error(`no model file in ${versionDir} (looked for ${candidates.map((c) => c[1]).join(', ')})`);
}
