// A parsed model config made whole: Triton's defaults filled in, keys kept in the schema's order.

import { availableParallelism } from 'node:os';
import type { ModelConfig } from '../core/model-config.js';
import { setOwn } from './config-parse.js';
import { fieldOrder } from './schema.js';

const TOP_ORDER = fieldOrder('inference.ModelConfig');
const INPUT_ORDER = fieldOrder('inference.ModelInput');
const GROUP_ORDER = fieldOrder('inference.ModelInstanceGroup');
const OPTIMIZATION_ORDER = fieldOrder('inference.ModelOptimizationPolicy');
const BATCHING_ORDER = fieldOrder('inference.ModelDynamicBatching');

function ordered<T extends object>(obj: T, first: readonly string[]): T {
  const out: Record<string, unknown> = {};
  const src = obj as Record<string, unknown>;
  for (const k of first) if (Object.hasOwn(src, k)) setOwn(out, k, src[k]);
  for (const k of Object.keys(src)) if (!Object.hasOwn(out, k)) setOwn(out, k, src[k]);
  return out as T;
}

/**
 * Instances when a config does not say: on CPU, half the cores (at least one), since each instance
 * runs its own thread and the event loop needs a core for the protocols; one per GPU group.
 */
export function defaultInstanceCount(kind: string): number {
  return kind === 'KIND_CPU' || kind === 'KIND_AUTO' ? Math.max(1, Math.floor(availableParallelism() / 2)) : 1;
}

/**
 * Returns a copy with Triton's defaults filled in; `cfg` itself is not changed. A default instance
 * count stays within `maxInstances` (the server's cap), so a model that names no count still loads.
 */
export function applyDefaults(cfg: ModelConfig, modelName: string, maxInstances = Infinity): ModelConfig {
  const count = (kind: string) => Math.max(1, Math.min(defaultInstanceCount(kind), maxInstances));
  const out = structuredClone(cfg);
  if (!out.name) out.name = modelName;
  out.version_policy ??= { latest: { num_versions: 1 } };
  out.max_batch_size ??= 0;
  // Triton reports FORMAT_NONE for inputs that set no format.
  out.input = (out.input ?? []).map((input) =>
    ordered({ ...input, format: input.format ?? 'FORMAT_NONE', dims: input.dims ?? [] }, INPUT_ORDER));
  out.output = (out.output ?? []).map((output) => ({ ...output, dims: output.dims ?? [] }));
  // Groups as Triton's NormalizeInstanceGroup leaves them: the model's name for the group it adds,
  // <model>_<index> for a written group without one; KIND_AUTO resolved to where Duet runs it (the CPU).
  if (!out.instance_group || out.instance_group.length === 0) {
    out.instance_group = [{ name: out.name, kind: 'KIND_CPU', count: count('KIND_CPU') }];
  } else {
    out.instance_group = out.instance_group.map((g, i) => ordered({
      ...g, name: g.name || `${out.name}_${i}`, kind: !g.kind || g.kind === 'KIND_AUTO' ? 'KIND_CPU' : g.kind, count: g.count ?? count(g.kind ?? 'KIND_CPU'),
    }, GROUP_ORDER));
  }
  // Triton's NormalizeModelConfig: dynamic batching with no preferred size prefers max_batch_size (for Duet's
  // batcher the same as none: a full batch goes at once either way).
  const db = out.dynamic_batching;
  if (db && out.max_batch_size > 0 && !db.preferred_batch_size?.length) {
    out.dynamic_batching = ordered({ ...db, preferred_batch_size: [out.max_batch_size] }, BATCHING_ORDER);
  }
  // Triton's NormalizeModelConfig turns pinned memory on unless the config says otherwise (Duet has no pinned
  // memory to use; the fields are shown as Triton shows them).
  const opt = (out.optimization ?? {}) as Record<string, unknown>;
  opt.input_pinned_memory ??= { enable: true };
  opt.output_pinned_memory ??= { enable: true };
  out.optimization = ordered(opt, OPTIMIZATION_ORDER);
  return ordered(out, TOP_ORDER);
}
