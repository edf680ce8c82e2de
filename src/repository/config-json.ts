// A config's JSON form as Triton's REST /config returns it. Triton (core src/model_config_utils.cc,
// ModelConfigToJson) prints the ModelConfig message with protobuf's JSON printer, keeping proto field
// names and printing every field that has no presence (scalars at their defaults, empty lists, empty
// maps; messages and oneof members only when set), then turns a fixed list of 64-bit fields from
// protobuf's JSON strings back into numbers. The other 64-bit fields stay strings, as in Triton.

import type { ModelConfig } from '../core/model-config.js';
import { setOwn } from './config-parse.js';
import { enumOf, isMap, messageOf, MODEL_CONFIG, protobuf, type Field } from './schema.js';

// Triton's list of int64 fields printed as numbers ('value' is a map's value).
const NUMERIC_64 = new Set([
  'input.dims', 'input.reshape.shape', 'output.dims', 'output.reshape.shape',
  'version_policy.specific.versions',
  'dynamic_batching.max_queue_delay_microseconds', 'dynamic_batching.priority_levels',
  'dynamic_batching.default_priority_level', 'dynamic_batching.default_queue_policy.default_timeout_microseconds',
  'dynamic_batching.priority_queue_policy.value.default_timeout_microseconds',
  'sequence_batching.max_sequence_idle_microseconds', 'sequence_batching.oldest.max_queue_delay_microseconds',
  'sequence_batching.direct.max_queue_delay_microseconds', 'sequence_batching.state.dims',
  'ensemble_scheduling.step.model_version', 'model_warmup.inputs.value.dims',
]);
const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function scalar(f: Field, v: unknown, path: string): unknown {
  const e = enumOf(f);
  if (e) {
    if (v === undefined) return e.valuesById[0] ?? Object.keys(e.values)[0];
    return typeof v === 'number' ? e.valuesById[v] ?? v : v;
  }
  switch (f.type) {
    case 'string':
    case 'bytes':
      return v ?? '';
    case 'bool':
      return v ?? false;
    case 'float':
    case 'double': {
      const n = Number(v ?? 0);
      return Number.isFinite(n) ? n : String(n); // 'NaN', 'Infinity', '-Infinity', as protobuf prints them
    }
    default: {
      const n = v ?? 0;
      if (!INT64.has(f.type)) return Number(n);
      return NUMERIC_64.has(path) ? Number(n) : String(n);
    }
  }
}

function element(f: Field, v: unknown, path: string): unknown {
  const type = messageOf(f);
  return type ? message(type, (v ?? {}) as Record<string, unknown>, path) : scalar(f, v, path);
}

function message(type: protobuf.Type, obj: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    const p = path ? `${path}.${f.name}` : f.name;
    const v = Object.hasOwn(obj, f.name) ? obj[f.name] : undefined;
    if (isMap(f)) {
      const m: Record<string, unknown> = {};
      for (const [k, x] of Object.entries((v ?? {}) as Record<string, unknown>)) setOwn(m, k, element(f, x, `${p}.value`));
      setOwn(out, f.name, m);
    } else if (f.repeated) {
      setOwn(out, f.name, ((v ?? []) as unknown[]).map((x) => element(f, x, p)));
    } else if (messageOf(f) || f.partOf) {
      // Fields with presence print only when set.
      if (v !== undefined && v !== null) setOwn(out, f.name, element(f, v, p));
    } else {
      setOwn(out, f.name, scalar(f, v, p));
    }
  }
  return out;
}

const cache = new WeakMap<ModelConfig, ModelConfig>();

/** The config as Triton's /config prints it; computed once per config object. */
export function configJson(cfg: ModelConfig): ModelConfig {
  let out = cache.get(cfg);
  if (!out) {
    out = message(MODEL_CONFIG, cfg as unknown as Record<string, unknown>, '') as unknown as ModelConfig;
    cache.set(cfg, out);
  }
  return out;
}
