// inference.* protobuf messages <-> core requests and responses. Translation only.

import Long from 'long';
import { toDataType, type DataType } from '../../core/datatypes.js';
import { invalidArg } from '../../core/errors.js';
import type { InferRequest, InferResponse } from '../../core/infer.js';
import { jsonToRaw } from '../../core/json-tensor.js';
import { encodeBytes, type ParamValue, type Parameters, type Tensor } from '../../core/tensor.js';
import { inference } from '../../generated/proto.js';
import { WireInferRequest } from './infer-wire.js';

// Parameters and 64-bit numbers are shared with the client package, which owns them.
import { exactInt, paramsFromProto, paramsToProto, toNumber, type LongLike } from '../../../packages/client/src/grpc-params.js';

export { paramsFromProto, paramsToProto, toNumber };

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

export function decodeInferRequest(m: inference.ModelInferRequest | WireInferRequest): InferRequest {
  // Read from the wire already (infer-wire.ts), for the requests of the common shape.
  if (m instanceof WireInferRequest) return m.request;
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
