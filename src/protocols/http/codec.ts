// KServe v2 REST bodies <-> core requests and responses, including Triton's binary tensor extension:
// body = JSON header, then each binary tensor's bytes in order; Inference-Header-Content-Length gives
// the JSON length and parameters.binary_data_size each tensor's.

import { toDataType } from '../../core/datatypes.js';
import { invalidArg } from '../../core/errors.js';
import type { InferRequest, InferResponse, RequestedOutput } from '../../core/infer.js';
import { jsonToRaw, lostInt64Precision, parseJsonLossless, rawToJsonText } from '../../core/json-tensor.js';
import { describeValue } from '../../core/json-safe.js';
import type { Parameters, Tensor } from '../../core/tensor.js';

export const HEADER_LENGTH = 'inference-header-content-length';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** What a JSON value is, for error messages: 'an array', 'a string', 'null', ... */
const kindOf = (v: unknown): string =>
  v === null ? 'null' : v === undefined ? 'nothing' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidArg(`request body is not valid JSON: ${(e as Error).message}`);
  }
}

export function parseParameters(raw: unknown, where: string): Parameters {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw invalidArg(`${where} 'parameters' must be an object`);
  const out: Parameters = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out[k] = v;
    else throw invalidArg(`${where} parameter '${k}' must be a string, number or boolean, got ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`);
  }
  return out;
}

/** JSON's part of the shape check: an array of numbers. Their values are checked below the adapters. */
function jsonShape(raw: unknown, what: string): number[] {
  if (!Array.isArray(raw)) throw invalidArg(`${what}: 'shape' must be an array of integers, got ${describeValue(raw)}`);
  return raw.map((d, i) => {
    if (typeof d === 'number') return d;
    if (typeof d === 'bigint') return Number(d); // beyond 2^53: the shape check refuses it
    throw invalidArg(`${what}: 'shape' must be an array of integers, got ${describeValue(d)} at index ${i}`);
  });
}

/** True when an integer parameter (request, input or output) is beyond 2^53, so JSON.parse rounded it. */
function lostParameterPrecision(o: Json): boolean {
  const unsafe = (p: unknown) => isObject(p) && Object.values(p).some((v) => typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v));
  const any = (list: unknown) => Array.isArray(list) && list.some((t) => isObject(t) && unsafe(t.parameters));
  return unsafe(o.parameters) || any(o.inputs) || any(o.outputs);
}

export interface DecodedInfer {
  request: InferRequest;
  /** Per-output binary choice, and the default for outputs not named. */
  binaryOutputs: Map<string, boolean>;
  binaryDefault: boolean;
}

/**
 * Decode an infer body. `headerLength` comes from Inference-Header-Content-Length; without it the
 * whole body is JSON.
 */
export function decodeInferRequest(body: Buffer, headerLength: number | undefined, modelName: string, modelVersion?: string): DecodedInfer {
  const model = `model '${modelName}'`;
  if (headerLength !== undefined && headerLength > body.byteLength) {
    throw invalidArg(`Inference-Header-Content-Length is ${headerLength} but the body has only ${body.byteLength} bytes`);
  }
  const jsonText = (headerLength === undefined ? body : body.subarray(0, headerLength)).toString('utf8');
  let obj = parseJsonBody(jsonText);
  if (!isObject(obj)) throw invalidArg(`infer request body for ${model} must be a JSON object, got ${kindOf(obj)}`);
  if (lostInt64Precision(obj.inputs, (n) => `${model} input ${n}`) || lostParameterPrecision(obj)) obj = parseJsonLossless(jsonText, obj) as Json;
  const o = obj as Json;
  if (!Array.isArray(o.inputs)) throw invalidArg(`infer request for ${model} must have an 'inputs' array, got ${kindOf(o.inputs)}`);
  if (o.id !== undefined && typeof o.id !== 'string') throw invalidArg(`'id' must be a string`);

  let offset = headerLength ?? body.byteLength;
  const inputs: Tensor[] = o.inputs.map((raw: unknown, i: number) => {
    if (!isObject(raw)) throw invalidArg(`input ${i} must be an object`);
    const name = raw.name;
    if (typeof name !== 'string' || name === '') throw invalidArg(`input ${i} must have a 'name' string`);
    const what = `${model} input '${name}'`;
    const datatype = toDataType(raw.datatype, what);
    const shape = jsonShape(raw.shape, what);
    const parameters = parseParameters(raw.parameters, what);
    const size = parameters.binary_data_size;
    let data: Uint8Array;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
        throw invalidArg(`${what}: binary_data_size must be a non-negative integer, got ${typeof size === 'string' ? JSON.stringify(size) : String(size)}`);
      }
      if (raw.data !== undefined) throw invalidArg(`${what}: has both 'data' and binary_data_size`);
      if (offset + size > body.byteLength) {
        throw invalidArg(`${what}: binary_data_size ${size} runs past the end of the body (${body.byteLength - offset} bytes left)`);
      }
      data = body.subarray(offset, offset + size);
      offset += size;
      delete parameters.binary_data_size;
    } else {
      if (raw.data === undefined) throw invalidArg(`${what}: has neither 'data' nor binary_data_size`);
      data = jsonToRaw(datatype, raw.data, what);
    }
    return { name, datatype, shape, data, parameters };
  });
  if (offset !== body.byteLength) {
    throw invalidArg(`the binary data sizes add up to ${offset - (headerLength ?? body.byteLength)} bytes but ${body.byteLength - (headerLength ?? body.byteLength)} bytes follow the JSON header`);
  }

  const parameters = parseParameters(o.parameters, 'request');
  const binaryDefault = parameters.binary_data_output === true;
  const binaryOutputs = new Map<string, boolean>();
  let outputs: RequestedOutput[] | undefined;
  if (o.outputs !== undefined) {
    if (!Array.isArray(o.outputs)) throw invalidArg(`'outputs' must be an array`);
    outputs = o.outputs.map((raw: unknown, i: number) => {
      if (!isObject(raw) || typeof raw.name !== 'string') throw invalidArg(`output ${i} must be an object with a 'name' string`);
      const p = parseParameters(raw.parameters, `${model} output '${raw.name}'`);
      if (p.binary_data !== undefined) binaryOutputs.set(raw.name, p.binary_data === true);
      return { name: raw.name, parameters: p };
    });
  }
  return {
    request: { modelName, modelVersion, id: o.id as string | undefined, inputs, outputs, parameters },
    binaryOutputs,
    binaryDefault,
  };
}

export interface EncodedResponse {
  /** The whole body when no tensor is binary: left a string, which node:http writes with its header in one write. */
  text?: string;
  /** Otherwise the JSON header and the binary tensors' bytes (joined into one buffer when small). */
  chunks: Uint8Array[];
  /** Set when binary tensors follow the JSON: its length in bytes. */
  headerLength?: number;
}

/** Binary tensors up to this many bytes in all are copied in behind their JSON header: one buffer, one write. */
const JOIN_MAX = 16 * 1024;

export function encodeInferResponse(res: InferResponse, binary: (name: string) => boolean): EncodedResponse {
  const binaries: Uint8Array[] = [];
  let binaryBytes = 0;
  const outs = res.outputs.map((t) => {
    const head = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
    if (binary(t.name)) {
      binaries.push(t.data);
      binaryBytes += t.data.byteLength;
      return `${head},"parameters":{"binary_data_size":${t.data.byteLength}}}`;
    }
    return `${head},"data":${rawToJsonText(t.datatype, t.data)}}`;
  });
  let json = `{"model_name":${JSON.stringify(res.modelName)},"model_version":${JSON.stringify(res.modelVersion)}`;
  if (res.id !== undefined) json += `,"id":${JSON.stringify(res.id)}`;
  if (res.parameters && Object.keys(res.parameters).length) {
    json += `,"parameters":${JSON.stringify(res.parameters, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`;
  }
  json += `,"outputs":[${outs.join(',')}]}`;
  if (binaries.length === 0) return { text: json, chunks: [] };
  if (binaryBytes > JOIN_MAX) {
    const head = Buffer.from(json, 'utf8');
    return { chunks: [head, ...binaries], headerLength: head.byteLength };
  }
  const headerLength = Buffer.byteLength(json, 'utf8');
  const one = Buffer.allocUnsafe(headerLength + binaryBytes);
  let at = one.write(json, 0, headerLength, 'utf8');
  for (const b of binaries) {
    one.set(b, at);
    at += b.byteLength;
  }
  return { chunks: [one], headerLength };
}
