// gRPC InferParameter maps and 64-bit fields <-> plain values, for the client and the server's codec.

import Long from 'long';
import type { inference } from './generated/proto.js';
import type { ParamValue, Parameters } from './tensor.js';

export type LongLike = number | Long | string;

export function toNumber(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

/** int64 exactly: a number when safe, a bigint beyond 2^53. */
export function exactInt(v: LongLike, unsigned: boolean): number | bigint {
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

