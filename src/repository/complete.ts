// Auto-complete a config from what the model file declares, and refuse configs that contradict it.

import type { IoMeta, ModelConfig, ModelInputConfig, ModelOutputConfig } from '../core/model-config.js';
import { CONFIG_TO_KSERVE, KSERVE_TO_CONFIG } from './config.js';
import { applyDefaults } from './config-defaults.js';
import type { BackendSpec } from './backend-spec.js';

/** Triton's default max_batch_size for an auto-completed model whose every tensor has a free first dim. */
export const AUTO_MAX_BATCH_SIZE = 4;

const shapeText = (s: number[]) => `[${s.join(',')}]`;

export function completeConfig(
  config: ModelConfig | undefined,
  name: string,
  meta: { inputs?: IoMeta[]; outputs?: IoMeta[] },
  backend: BackendSpec,
  maxInstances?: number,
): ModelConfig {
  const fromFile = config === undefined;
  const cfg: ModelConfig = config
    ? structuredClone(config)
    : applyDefaults({ name, input: [], output: [], max_batch_size: 0 } as ModelConfig, name, maxInstances);
  if (!cfg.backend && !cfg.platform) cfg.backend = backend.complete.backend;
  if (backend.complete.platform && !cfg.platform) cfg.platform = backend.complete.platform;
  const { inputs, outputs } = meta;
  if (!inputs || !outputs) return cfg;

  if (fromFile) {
    const all = [...inputs, ...outputs];
    const batchable = all.length > 0 && all.every((m) => m.shape.length >= 1 && m.shape[0] === -1);
    cfg.max_batch_size = batchable ? AUTO_MAX_BATCH_SIZE : 0;
  }
  const strip = (shape: number[]) => (cfg.max_batch_size > 0 ? shape.slice(1) : shape.slice());
  if (cfg.input.length === 0) {
    cfg.input = inputs.map((m): ModelInputConfig => ({ name: m.name, data_type: KSERVE_TO_CONFIG[m.datatype]!, dims: strip(m.shape) }));
  }
  if (cfg.output.length === 0) {
    cfg.output = outputs.map((m): ModelOutputConfig => ({ name: m.name, data_type: KSERVE_TO_CONFIG[m.datatype]!, dims: strip(m.shape) }));
  }
  return cfg;
}

/** Throws naming the first contradiction between the config and the model file. */
export function checkAgainstModel(cfg: ModelConfig, meta: { inputs?: IoMeta[]; outputs?: IoMeta[] }): void {
  const batch = cfg.max_batch_size > 0;
  const check = (kind: 'input' | 'output', list: (ModelInputConfig | ModelOutputConfig)[], declared: IoMeta[]) => {
    const byName = new Map(declared.map((m) => [m.name, m]));
    for (const c of list) {
      const m = byName.get(c.name);
      if (!m) {
        throw new Error(`config ${kind} '${c.name}' is not in the model file, whose ${kind}s are ${declared.map((d) => `'${d.name}'`).join(', ') || 'none'}`);
      }
      if (CONFIG_TO_KSERVE[c.data_type] !== m.datatype) {
        throw new Error(`config ${kind} '${c.name}' has data_type ${c.data_type} but the model file declares ${KSERVE_TO_CONFIG[m.datatype]}`);
      }
      const dims = c.reshape ? c.reshape.shape : c.dims;
      const full = batch ? [-1, ...dims] : dims;
      if (m.shape.length === 0 && full.length > 0 && !batch) continue; // shape unknown to the file
      if (full.length !== m.shape.length) {
        throw new Error(`config ${kind} '${c.name}' has ${batch ? 'batched ' : ''}shape ${shapeText(full)} (rank ${full.length}) but the model file declares ${shapeText(m.shape)} (rank ${m.shape.length})`);
      }
      for (let i = batch ? 1 : 0; i < full.length; i++) {
        if (full[i] !== -1 && m.shape[i] !== -1 && full[i] !== m.shape[i]) {
          throw new Error(`config ${kind} '${c.name}' has dims ${shapeText(full)} but the model file declares ${shapeText(m.shape)}`);
        }
      }
      if (batch && m.shape[0] !== -1) {
        throw new Error(`config sets max_batch_size ${cfg.max_batch_size} but ${kind} '${c.name}' of the model file has a fixed first dimension ${m.shape[0]}`);
      }
    }
  };
  if (meta.inputs) {
    check('input', cfg.input, meta.inputs);
    const listed = new Set(cfg.input.map((i) => i.name));
    const missing = meta.inputs.filter((m) => !listed.has(m.name));
    if (missing.length) throw new Error(`the model file requires input '${missing[0].name}', which the config does not list`);
  }
  if (meta.outputs) check('output', cfg.output, meta.outputs);
}
