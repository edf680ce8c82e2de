// The generate extension's JSON shape, protocol-neutral: top-level keys that name model inputs
// become tensors, every other key (and a "parameters" object) becomes a request parameter; a
// response flattens back to {model_name, model_version, <output>: value, <parameter>: value}.

import { elementSize, isDataType } from './datatypes.js';
import { invalidArg } from './errors.js';
import { stringifyChecked } from './json-safe.js';
import { jsonToRaw, rawToValues } from './json-tensor.js';
import { countBytesElements, type Parameters, type Tensor } from './tensor.js';

/** What the mapping needs of a model: its inputs as model metadata gives them (batch dim as -1 first). */
export interface GenerateInputSpec {
  name: string;
  datatype: string;
  /** Metadata shape: for a batching model the first -1 is the batch dimension. */
  shape: number[];
}

/** A request or response as the generate mapping reads and writes it (the server's InferRequest has these fields). */
export interface GenerateRequest {
  modelName: string;
  modelVersion?: string;
  id?: string;
  inputs: Tensor[];
  parameters: Parameters;
}

export interface GenerateResponse {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function scalarParams(raw: unknown, where: string): Parameters {
  if (!isObject(raw)) throw invalidArg(`${where} 'parameters' must be an object`);
  const out: Parameters = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out[k] = v;
    else if (v !== null && v !== undefined) out[k] = stringifyChecked(v, `${where} parameter '${k}'`);
  }
  return out;
}

export function decodeGenerateBody(
  body: unknown,
  inputs: GenerateInputSpec[],
  batched: boolean,
  modelName: string,
  modelVersion?: string,
): GenerateRequest {
  const model = `model '${modelName}'`;
  if (!isObject(body)) throw invalidArg(`generate request body for ${model} must be a JSON object`);
  const tensors: Tensor[] = [];
  const parameters: Parameters = {};
  for (const [key, value] of Object.entries(body)) {
    const spec = inputs.find((i) => i.name === key);
    if (spec) {
      const what = `${model} input '${key}'`;
      if (!isDataType(spec.datatype)) throw invalidArg(`${what}: unsupported datatype ${spec.datatype}`);
      const datatype = spec.datatype;
      const data = jsonToRaw(datatype, Array.isArray(value) ? value : [value], what);
      const count = datatype === 'BYTES' ? countBytesElements(data) : data.byteLength / elementSize(datatype);
      const dims = batched ? spec.shape.slice(1) : spec.shape;
      // Free dims take what is left once the fixed ones are counted.
      const fixed = dims.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
      const shape = dims.map((d) => (d < 0 ? (fixed ? Math.floor(count / fixed) : 0) : d));
      tensors.push({ name: key, datatype, shape: batched ? [1, ...shape] : shape, data });
    } else if (key === 'parameters') {
      Object.assign(parameters, scalarParams(value, 'generate request'));
    } else if (key !== 'id' && value !== null && value !== undefined) {
      parameters[key] = typeof value === 'object' ? stringifyChecked(value, `generate request parameter '${key}'`) : (value as string | number | boolean);
    }
  }
  const id = body.id;
  if (id !== undefined && typeof id !== 'string') throw invalidArg(`'id' must be a string`);
  return { modelName, modelVersion, id, inputs: tensors, parameters };
}

/** A response as flat JSON: outputs by name (a scalar when it holds one element), then its parameters. */
export function generateResponseJson(r: GenerateResponse): Record<string, unknown> {
  const out: Record<string, unknown> = { model_name: r.modelName, model_version: r.modelVersion };
  if (r.id !== undefined) out.id = r.id;
  for (const t of r.outputs) {
    const v = rawToValues(t.datatype, t.data);
    out[t.name] = v.length === 1 ? v[0] : v;
  }
  for (const [k, v] of Object.entries(r.parameters ?? {})) if (!(k in out)) out[k] = v;
  return out;
}

/** JSON text in which bigints are numbers when safe and digit strings otherwise. */
export const jsonText = (v: unknown) =>
  JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? (Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()) : x));
