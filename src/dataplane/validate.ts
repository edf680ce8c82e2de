// What the data plane checks of a request against its model's config, and what it does to the
// model's outputs on the way back (reshape, classification); the queue parameters Triton defines.

import { getFloat16 } from '@petamoriken/float16';
import { typedView, type DataType } from '../core/datatypes.js';
import { InferenceError, invalidArg } from '../core/errors.js';
import type { InferRequest } from '../core/infer.js';
import type { ModelConfig, ModelInputConfig, ModelOutputConfig } from '../core/model-config.js';
import { checkShape, checkTensorSize, elementCount, encodeBytes, shapeString, type ParamValue, type Tensor } from '../core/tensor.js';
import { CONFIG_TO_KSERVE } from '../repository/config.js';
import type { ServedVersion } from '../model-manager.js';

export const dtOf = (c: { data_type: string }) => CONFIG_TO_KSERVE[c.data_type as keyof typeof CONFIG_TO_KSERVE] as DataType;

/** What validation reads of a model's config, worked out once per config instead of per request. */
interface Prepared {
  name: string;
  inputs: Map<string, { c: ModelInputConfig; index: number; what: string; dt: DataType; shape: number[] }>;
  outputNames: string[];
  outputs: Map<string, ModelOutputConfig>;
}

const prepared = new WeakMap<ModelConfig, Prepared>();
const NO_CLASSIFY: ReadonlyMap<string, number> = new Map();

function prepare(sv: ServedVersion): Prepared {
  const cfg = sv.config;
  let p = prepared.get(cfg);
  if (p && p.name === sv.name) return p;
  const batched = cfg.max_batch_size > 0;
  p = {
    name: sv.name,
    inputs: new Map(cfg.input.map((c, index) => [c.name, {
      c, index, what: `model '${sv.name}' input '${c.name}'`, dt: dtOf(c), shape: batched ? [-1, ...c.dims] : c.dims,
    }])),
    outputNames: cfg.output.map((o) => o.name),
    outputs: new Map(cfg.output.map((o) => [o.name, o])),
  };
  prepared.set(cfg, p);
  return p;
}

export function validate(sv: ServedVersion, req: InferRequest) {
  const cfg = sv.config;
  const model = `model '${sv.name}'`;
  const byName = prepare(sv).inputs;
  // Which config inputs were given, by index (a bit each; models with more than 31 inputs use a Set).
  let seenBits = 0;
  const seenSet = byName.size > 31 ? new Set<number>() : undefined;
  const mbs = cfg.max_batch_size;
  let batchSize: number | undefined;
  const inputs: Tensor[] = [];
  for (const t of req.inputs) {
    const p = byName.get(t.name);
    if (!p) {
      throw invalidArg(`${model} has no input '${t.name}'; its inputs are ${cfg.input.map((i) => `'${i.name}'`).join(', ')}`);
    }
    const { c, what } = p;
    if (seenSet ? seenSet.has(p.index) : seenBits & (1 << p.index)) throw invalidArg(`${what} is given more than once`);
    if (seenSet) seenSet.add(p.index);
    else seenBits |= 1 << p.index;
    const want = p.dt;
    if (t.datatype !== want) throw invalidArg(`${what}: expected datatype ${want}, got ${t.datatype}`);
    checkShape(t.shape, what);
    const expected = p.shape;
    let shapeOk = t.shape.length === expected.length;
    for (let i = 0; shapeOk && i < expected.length; i++) shapeOk = expected[i] === -1 || expected[i] === t.shape[i];
    if (!shapeOk) {
      throw invalidArg(`${what}: expected shape ${shapeString(expected)}, got ${shapeString(t.shape)}`);
    }
    if (mbs > 0) {
      const b = t.shape[0];
      if (b < 1 || b > mbs) throw invalidArg(`${what}: batch size ${b} is outside 1..${mbs} (max_batch_size ${mbs})`);
      if (batchSize !== undefined && b !== batchSize) {
        throw invalidArg(`${what}: batch size ${b} differs from the other inputs' batch size ${batchSize}`);
      }
      batchSize = b;
    }
    checkTensorSize(t, what);
    inputs.push(reshapeInput(t, c, mbs > 0));
  }
  const given = (i: number) => (seenSet ? seenSet.has(i) : (seenBits & (1 << i)) !== 0);
  const missing = inputs.length === cfg.input.length ? [] : cfg.input.filter((c, i) => !given(i) && !c.optional);
  if (missing.length) {
    throw invalidArg(`${model} expects ${cfg.input.length} input${cfg.input.length === 1 ? '' : 's'}; missing ${missing.map((m) => `'${m.name}'`).join(', ')}`);
  }

  let outputs = req.outputs;
  let classify: ReadonlyMap<string, number> = NO_CLASSIFY;
  if (outputs?.length) {
    const chosen = new Map<string, number>();
    classify = chosen;
    const names = new Set(cfg.output.map((o) => o.name));
    const dup = new Set<string>();
    for (const o of outputs) {
      if (!names.has(o.name)) {
        throw invalidArg(`${model} has no output '${o.name}'; its outputs are ${cfg.output.map((x) => `'${x.name}'`).join(', ')}`);
      }
      if (dup.has(o.name)) throw invalidArg(`${model} output '${o.name}' is requested more than once`);
      dup.add(o.name);
      const k = o.parameters?.classification;
      if (k !== undefined) {
        const n = integerParam(k);
        if (n === undefined || n < 1) {
          throw invalidArg(`${model} output '${o.name}': classification must be a positive integer, got ${showParam(k)}`);
        }
        const dt = dtOf(cfg.output.find((x) => x.name === o.name)!);
        if (dt === 'BYTES') throw invalidArg(`${model} output '${o.name}': classification needs a numeric output, got datatype ${dt}`);
        chosen.set(o.name, n);
      }
    }
  }
  if (outputs?.length === 0) outputs = undefined;
  return { inputs, outputs, classify };
}


export function finishOutputs(sv: ServedVersion, result: Tensor[], requested: string[] | undefined, classify: ReadonlyMap<string, number>): Tensor[] {
  const cfg = sv.config;
  const batched = cfg.max_batch_size > 0;
  const order = requested ?? prepare(sv).outputNames;
  const out: Tensor[] = new Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const name = order[i];
    // Outputs are few: a scan beats building a map per response.
    let t = result[i]?.name === name ? result[i] : undefined;
    for (let j = 0; !t && j < result.length; j++) if (result[j].name === name) t = result[j];
    if (!t) throw new InferenceError('INTERNAL', `model '${sv.name}' did not produce output '${name}'`);
    const c = prepare(sv).outputs.get(name);
    if (c?.reshape) {
      // The model produced the reshape shape; clients see the config dims.
      const lead = batched ? [t.shape[0]] : [];
      const dims = c.dims.map((d) => (d === -1 ? inferDim(t!, c.dims, lead) : d));
      t = { ...t, shape: [...lead, ...dims] };
    }
    const k = classify.size ? classify.get(name) : undefined;
    out[i] = k ? classification(t, k, batched, sv.labels.get(name)) : t;
  }
  return out;
}

/** The `priority` (1 = highest) and `timeout` (µs) request parameters. */
export function queueParameters(sv: ServedVersion, req: InferRequest): { priority?: number; timeoutUs?: number } {
  const out: { priority?: number; timeoutUs?: number } = {};
  const p = req.parameters.priority;
  if (p !== undefined) {
    const n = integerParam(p);
    if (n === undefined || n < 0) throw invalidArg(`model '${sv.name}': parameter 'priority' must be a non-negative integer, got ${showParam(p)}`);
    out.priority = n;
  }
  const t = req.parameters.timeout;
  if (t !== undefined) {
    const n = typeof t === 'number' || typeof t === 'bigint' ? Number(t) : NaN;
    if (!(n >= 0)) throw invalidArg(`model '${sv.name}': parameter 'timeout' must be a non-negative number of microseconds, got ${showParam(t)}`);
    out.timeoutUs = n;
  }
  return out;
}

/** An integer parameter as Triton takes it: a JSON integer or an int64/uint64 parameter, never a string or bool. */
export function integerParam(v: ParamValue): number | undefined {
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

/** A parameter value in a message: strings quoted, so an empty one still shows. */
export const showParam = (v: ParamValue) => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v));

export const isDecoupled = (cfg: ModelConfig) => cfg.model_transaction_policy?.decoupled === true;

function reshapeInput(t: Tensor, c: ModelInputConfig, batched: boolean): Tensor {
  if (!c.reshape) return t;
  const lead = batched ? [t.shape[0]] : [];
  return { ...t, shape: [...lead, ...c.reshape.shape] };
}

function inferDim(t: Tensor, dims: number[], lead: number[]): number {
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1) * elementCount(lead);
  return known ? elementCount(t.shape) / known : 0;
}

function numbersOf(t: Tensor): ArrayLike<number> {
  if (t.datatype === 'BYTES') throw invalidArg(`classification is not supported for BYTES output '${t.name}'`);
  if (t.datatype === 'FP16') {
    const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    return Array.from({ length: t.data.byteLength / 2 }, (_, i) => getFloat16(dv, i * 2, true));
  }
  const v = typedView(t.datatype, t.data);
  return v instanceof BigInt64Array || v instanceof BigUint64Array ? Array.from(v, Number) : v;
}

/** Triton's classification extension: top-k "value:index[:label]" strings per batch row. */
function classification(t: Tensor, k: number, batched: boolean, labels: string[] | undefined): Tensor {
  const vals = numbersOf(t);
  const rows = batched ? t.shape[0] : 1;
  const per = rows ? vals.length / rows : 0;
  const kk = Math.min(k, per);
  const out: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: per }, (_, i) => i);
    idx.sort((a, b) => vals[r * per + b] - vals[r * per + a] || a - b);
    for (const i of idx.slice(0, kk)) {
      const label = labels?.[i];
      out.push(Buffer.from(`${vals[r * per + i].toFixed(6)}:${i}${label !== undefined ? `:${label}` : ''}`));
    }
  }
  return { name: t.name, datatype: 'BYTES', shape: batched ? [rows, kk] : [kk], data: encodeBytes(out) };
}
