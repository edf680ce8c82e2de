// inference.* protobuf messages <-> core requests and responses. Translation only.

import Long from 'long';
import { toDataType, type DataType } from '../../core/datatypes.js';
import { invalidArg } from '../../core/errors.js';
import type { InferRequest, InferResponse } from '../../core/infer.js';
import { jsonToRaw } from '../../core/json-tensor.js';
import { encodeBytes, type ParamValue, type Parameters, type Tensor } from '../../core/tensor.js';
import { inference } from '../../generated/proto.js';

type LongLike = number | Long | string;

export function toNumber(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

/** int64 exactly: a number when safe, a bigint beyond 2^53. */
function exactInt(v: LongLike, unsigned: boolean): number | bigint {
  if (typeof v === 'number') return v;
  const s = typeof v === 'string' ? v : v.toString();
  const b = BigInt(unsigned && s.startsWith('-') ? BigInt.asUintN(64, BigInt(s)).toString() : s);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

export function paramsFromProto(map: Record<string, inference.IInferParameter> | null | undefined): Parameters {
  const out: Parameters = {};
  if (!map) return out;
  for (const [k, p] of Object.entries(map)) {
    const v = paramValue(p as inference.InferParameter);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function paramValue(p: inference.InferParameter): ParamValue | undefined {
  switch (p.parameter_choice) {
    case 'bool_param': return p.bool_param ?? false;
    case 'int64_param': return exactInt(p.int64_param as LongLike, false);
    case 'uint64_param': return exactInt(p.uint64_param as LongLike, true);
    case 'string_param': return p.string_param ?? '';
    case 'double_param': return p.double_param ?? 0;
    default: return undefined;
  }
}

export function paramsToProto(params: Parameters | undefined): Record<string, inference.IInferParameter> {
  const out: Record<string, inference.IInferParameter> = {};
  for (const [k, v] of Object.entries(params ?? {})) {
    if (typeof v === 'boolean') out[k] = { bool_param: v };
    else if (typeof v === 'string') out[k] = { string_param: v };
    else if (typeof v === 'bigint') out[k] = v < 0n ? { int64_param: Long.fromString(v.toString()) } : { uint64_param: Long.fromString(v.toString(), true) };
    else if (Number.isInteger(v)) out[k] = { int64_param: v };
    else out[k] = { double_param: v };
  }
  return out;
}

/** The typed `contents` field that carries each datatype (FP16 has none: raw only). */
function contentsOf(c: inference.IInferTensorContents, dt: DataType): unknown[] | undefined {
  switch (dt) {
    case 'BOOL': return c.bool_contents ?? [];
    case 'INT8': case 'INT16': case 'INT32': return c.int_contents ?? [];
    case 'UINT8': case 'UINT16': case 'UINT32': return c.uint_contents ?? [];
    case 'INT64': return (c.int64_contents ?? []).map((v) => exactInt(v as LongLike, false));
    case 'UINT64': return (c.uint64_contents ?? []).map((v) => exactInt(v as LongLike, true));
    case 'FP32': return c.fp32_contents ?? [];
    case 'FP64': return c.fp64_contents ?? [];
    case 'BYTES': return c.bytes_contents ?? [];
    default: return undefined;
  }
}

export function decodeInferRequest(m: inference.ModelInferRequest): InferRequest {
  const model = `model '${m.model_name}'`;
  if (!m.model_name) throw invalidArg('ModelInferRequest.model_name is empty');
  const raw = m.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== m.inputs.length) {
    throw invalidArg(`${model}: raw_input_contents has ${raw.length} entries for ${m.inputs.length} inputs; give one per input or none`);
  }
  const inputs: Tensor[] = m.inputs.map((inp, i) => {
    const name = inp.name ?? '';
    const what = `${model} input '${name}'`;
    const datatype = toDataType(inp.datatype, what);
    const shape = (inp.shape ?? []).map((d) => toNumber(d as LongLike));
    let data: Uint8Array;
    if (raw.length > 0) {
      if (inp.contents && hasContents(inp.contents)) throw invalidArg(`${what}: has both typed contents and raw_input_contents`);
      data = raw[i];
    } else {
      const vals = inp.contents ? contentsOf(inp.contents, datatype) : undefined;
      if (vals === undefined) throw invalidArg(`${what}: ${datatype} data must be sent in raw_input_contents`);
      data = datatype === 'BYTES' ? encodeBytes(vals as Uint8Array[]) : jsonToRaw(datatype, vals, what);
    }
    return { name, datatype, shape, data, parameters: paramsFromProto(inp.parameters) };
  });
  const outputs = m.outputs.length
    ? m.outputs.map((o) => ({ name: o.name ?? '', parameters: paramsFromProto(o.parameters) }))
    : undefined;
  return {
    modelName: m.model_name,
    modelVersion: m.model_version || undefined,
    id: m.id || undefined,
    inputs,
    outputs,
    parameters: paramsFromProto(m.parameters),
  };
}

function hasContents(c: inference.IInferTensorContents): boolean {
  return [c.bool_contents, c.int_contents, c.int64_contents, c.uint_contents, c.uint64_contents, c.fp32_contents, c.fp64_contents, c.bytes_contents]
    .some((a) => a && a.length > 0);
}

/** Outputs always travel in raw_output_contents, in order, as Triton's clients expect. */
export function encodeInferResponse(r: InferResponse): inference.IModelInferResponse {
  return {
    model_name: r.modelName,
    model_version: r.modelVersion,
    id: r.id ?? '',
    parameters: paramsToProto(r.parameters),
    outputs: r.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_output_contents: r.outputs.map((t) => t.data),
  };
}
