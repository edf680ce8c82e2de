// model_warmup: the requests a model runs on each instance before it is ready, built as Triton builds them
// (core backend_model_instance.cc GenerateWarmupData): batch_size requests of batch 1, zero or random data,
// or raw bytes from a file in the model's warmup/ folder; a sample with batch_size 0 is skipped.

import { randomFillSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { elementSize } from '../core/datatypes.js';
import type { ConfigDataType, ModelConfig } from '../core/model-config.js';
import type { Tensor } from '../core/tensor.js';
import { CONFIG_TO_KSERVE } from './config.js';
import { containedRealPath, namedPath, type ModelPlace } from './contain.js';

interface WarmupInput {
  data_type?: ConfigDataType;
  dims?: number[];
  zero_data?: boolean;
  random_data?: boolean;
  input_data_file?: string;
}

interface WarmupSetting {
  name?: string;
  batch_size?: number;
  inputs?: Record<string, WarmupInput>;
  count?: number;
}

export interface WarmupSample {
  name: string;
  /** How many times the sample runs (the config's count; 0 means once). */
  runs: number;
  /** batch_size requests, each a list of input tensors; run together as one batch. */
  requests: Tensor[][];
}

/** The folder input_data_file names are read from, inside the model's folder. */
export const WARMUP_FOLDER = 'warmup';

/** A config may come from a load request: one warmup input may not ask the server for more memory than this. */
export const MAX_WARMUP_INPUT_BYTES = 256 * 1024 * 1024;

async function inputData(
  place: ModelPlace, sample: string, fail: (msg: string) => never, name: string, input: WarmupInput, byteSize: number, datatype: string,
): Promise<Uint8Array> {
  const bytes = datatype === 'BYTES';
  const bool = datatype === 'BOOL';
  if (input.zero_data || (input.random_data && bytes)) {
    // Zeroed BYTES are elements of length 0, as in Triton (which also sends them for random BYTES).
    return new Uint8Array(byteSize);
  }
  if (input.random_data) {
    const data = randomFillSync(new Uint8Array(byteSize));
    if (bool) for (let k = 0; k < data.length; k++) data[k] = data[k]! & 1;
    return data;
  }
  if (input.input_data_file !== undefined) {
    const field = `model_warmup sample '${sample}' input '${name}' input_data_file`;
    const path = namedPath(place, field, input.input_data_file, join(place.modelDir, WARMUP_FOLDER));
    const real = await containedRealPath(place, field, path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') fail(`input '${name}': file '${input.input_data_file}' not found in the model's ${WARMUP_FOLDER}/ folder`);
      throw e;
    });
    const data = new Uint8Array(await readFile(real));
    if (bytes) return data;
    if (data.byteLength < byteSize) {
      fail(`input '${name}': needs ${byteSize} bytes but '${input.input_data_file}' holds ${data.byteLength}`);
    }
    return data.subarray(0, byteSize);
  }
  fail(`input '${name}' sets none of zero_data, random_data, input_data_file`);
}

/** The config's warmup samples, their data read or made; throws naming the sample at the first problem. */
export async function warmupSamples(cfg: ModelConfig, place: ModelPlace): Promise<WarmupSample[]> {
  const settings = (cfg.model_warmup ?? []) as WarmupSetting[];
  const out: WarmupSample[] = [];
  for (const [i, s] of settings.entries()) {
    const name = s.name || `#${i + 1}`;
    const fail: (msg: string) => never = (msg) => {
      throw new Error(`model_warmup sample '${name}': ${msg}`);
    };
    const batch = Number(s.batch_size ?? 0);
    if (batch === 0) continue;
    if (cfg.max_batch_size === 0 && batch > 1) fail(`batch_size ${batch} needs a model that batches (max_batch_size is 0)`);
    if (cfg.max_batch_size > 0 && batch > cfg.max_batch_size) fail(`batch_size ${batch} is larger than max_batch_size ${cfg.max_batch_size}`);
    const tensors: Tensor[] = [];
    for (const [inputName, input] of Object.entries(s.inputs ?? {})) {
      const datatype = input.data_type && CONFIG_TO_KSERVE[input.data_type];
      if (!datatype) fail(`input '${inputName}': unsupported data_type '${input.data_type ?? 'TYPE_INVALID'}'`);
      const dims = (input.dims ?? []).map(Number);
      if (dims.some((d) => d < 0)) fail(`input '${inputName}': dims [${dims.join(',')}] must all be known (no -1)`);
      const byteSize = dims.reduce((a, b) => a * b, 1) * (datatype === 'BYTES' ? 4 : elementSize(datatype));
      if (byteSize > MAX_WARMUP_INPUT_BYTES) fail(`input '${inputName}': dims [${dims.join(',')}] need ${byteSize} bytes, above the limit of ${MAX_WARMUP_INPUT_BYTES}`);
      const data = await inputData(place, name, fail, inputName, input, byteSize, datatype);
      tensors.push({ name: inputName, datatype, shape: cfg.max_batch_size > 0 ? [1, ...dims] : dims, data });
    }
    out.push({ name, runs: Math.max(1, Number(s.count ?? 0)), requests: Array.from({ length: batch }, () => tensors) });
  }
  return out;
}

/**
 * The optimization settings Duet does not act on, by field path, so a load can say so once. Pinned memory
 * is left out: Triton's defaults turn it on and there is nothing to pin on a CPU server.
 */
export function unhonouredOptimizations(cfg: ModelConfig): string[] {
  const opt = cfg.optimization as Record<string, any> | undefined;
  if (!opt) return [];
  const out: string[] = [];
  for (const kind of ['gpu_execution_accelerator', 'cpu_execution_accelerator']) {
    for (const a of opt.execution_accelerators?.[kind] ?? []) out.push(`optimization.execution_accelerators.${kind} '${a.name ?? ''}'`);
  }
  if (opt.graph) out.push('optimization.graph');
  if (opt.priority && opt.priority !== 'PRIORITY_DEFAULT') out.push(`optimization.priority ${opt.priority}`);
  for (const [k, v] of Object.entries(opt.cuda ?? {})) if (v && (!Array.isArray(v) || v.length > 0)) out.push(`optimization.cuda.${k}`);
  if (Number(opt.gather_kernel_buffer_threshold ?? 0) > 0) out.push('optimization.gather_kernel_buffer_threshold');
  if (opt.eager_batching) out.push('optimization.eager_batching');
  return out;
}
