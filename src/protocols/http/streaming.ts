// Triton's generate extension: POST .../generate (one JSON response) and .../generate_stream
// (server-sent events, one `data: {...}` per response). Top-level keys that name model inputs
// become tensors; every other key (and a "parameters" object) becomes a request parameter.

import { invalidArg, asInferenceError } from '../../core/errors.js';
import type { InferRequest, InferResponse } from '../../core/infer.js';
import { jsonToRaw, rawToValues } from '../../core/json-tensor.js';
import type { ModelConfig } from '../../core/model-config.js';
import { countBytesElements, type Parameters, type Tensor } from '../../core/tensor.js';
import { elementSize } from '../../core/datatypes.js';
import { CONFIG_TO_KSERVE } from '../../repository/config.js';
import { parseParameters } from './codec.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function decodeGenerateRequest(body: unknown, cfg: ModelConfig, modelName: string, modelVersion?: string): InferRequest {
  const model = `model '${modelName}'`;
  if (!isObject(body)) throw invalidArg(`generate request body for ${model} must be a JSON object`);
  const inputs: Tensor[] = [];
  const parameters: Parameters = {};
  for (const [key, value] of Object.entries(body)) {
    const c = cfg.input.find((i) => i.name === key);
    if (c) {
      const what = `${model} input '${key}'`;
      const datatype = CONFIG_TO_KSERVE[c.data_type];
      const data = jsonToRaw(datatype, Array.isArray(value) ? value : [value], what);
      const count = datatype === 'BYTES' ? countBytesElements(data) : data.byteLength / elementSize(datatype);
      // Free dims take what is left once the fixed ones are counted.
      const fixed = c.dims.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
      const dims = c.dims.map((d) => (d < 0 ? (fixed ? Math.floor(count / fixed) : 0) : d));
      inputs.push({ name: key, datatype, shape: cfg.max_batch_size > 0 ? [1, ...dims] : dims, data });
    } else if (key === 'parameters') {
      Object.assign(parameters, parseParameters(value, 'generate request'));
    } else if (key === 'id') {
      continue;
    } else if (value !== null && typeof value === 'object') {
      parameters[key] = JSON.stringify(value);
    } else if (value !== null && value !== undefined) {
      parameters[key] = value as string | number | boolean;
    }
  }
  const id = body.id;
  if (id !== undefined && typeof id !== 'string') throw invalidArg(`'id' must be a string`);
  return { modelName, modelVersion, id, inputs, parameters };
}

/** A response as flat JSON: outputs by name (a scalar when it holds one element), then its parameters. */
export function generateResponseJson(r: InferResponse): Record<string, unknown> {
  const out: Record<string, unknown> = { model_name: r.modelName, model_version: r.modelVersion };
  if (r.id !== undefined) out.id = r.id;
  for (const t of r.outputs) {
    const v = rawToValues(t.datatype, t.data);
    out[t.name] = v.length === 1 ? v[0] : v;
  }
  for (const [k, v] of Object.entries(r.parameters ?? {})) if (!(k in out)) out[k] = v;
  return out;
}

export const jsonText = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? (Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()) : x));

/**
 * SSE frames for a response stream. The first response was awaited by the caller (so an error
 * before streaming starts is a JSON error); an error later becomes an `event: error` frame.
 */
export async function* sseFrames(first: IteratorResult<InferResponse>, rest: AsyncIterator<InferResponse>): AsyncIterable<string> {
  if (first.done) return;
  yield `data: ${jsonText(generateResponseJson(first.value))}\n\n`;
  try {
    for (;;) {
      const n = await rest.next();
      if (n.done) return;
      yield `data: ${jsonText(generateResponseJson(n.value))}\n\n`;
    }
  } catch (e) {
    yield `event: error\ndata: ${JSON.stringify({ error: asInferenceError(e).message })}\n\n`;
  }
}
