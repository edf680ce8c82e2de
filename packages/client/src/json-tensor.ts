// Tensor data as KServe v2 JSON: flat row-major arrays, BYTES as strings, BOOL as true/false,
// FP16 as numbers. INT64/UINT64 stay exact: bigint in, digits out.

import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { parse as parseLossless, isSafeNumber, isInteger } from 'lossless-json';
import { elementSize, typedView, type DataType } from './datatypes.js';
import { invalidArg } from './errors.js';
import { checkNesting, describeValue as describe, MAX_JSON_NESTING as MAX_NESTING } from './json-safe.js';
import { decodeStrings, encodeBytes, utf8 } from './tensor.js';

const INT_RANGE: Record<string, [number, number]> = {
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295],
};
const BIG_RANGE: Record<string, [bigint, bigint]> = {
  INT64: [-(1n << 63n), (1n << 63n) - 1n],
  UINT64: [0n, (1n << 64n) - 1n],
};

/** Row-major flattening without recursion, so hostile nesting cannot overflow the stack. */
function flatten(data: unknown[], what: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const stack: [unknown[], number][] = [[data, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top[1] >= top[0].length) {
      stack.pop();
      continue;
    }
    const v = top[0][top[1]++];
    if (Array.isArray(v)) {
      if (stack.length >= MAX_NESTING) throw invalidArg(`${what}: 'data' is nested more than ${MAX_NESTING} levels deep`);
      stack.push([v, 0]);
    } else out.push(v);
  }
  return out;
}

function floatOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity' || v === 'inf') return Infinity;
  if (v === '-Infinity' || v === '-inf') return -Infinity;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/**
 * Convert JSON `data` into raw tensor bytes. `what` names the tensor in error messages.
 * The caller checks the element count against the shape.
 */
export function jsonToRaw(datatype: DataType, raw: unknown, what: string): Uint8Array {
  if (!Array.isArray(raw)) throw invalidArg(`${what}: 'data' must be an array, got ${describe(raw)}`);
  const data = flatten(raw, what);
  const n = data.length;
  const bad = (i: number, expected: string) =>
    invalidArg(`${what}: element ${i} of ${datatype} data must be ${expected}, got ${describe(data[i])}`);

  if (datatype === 'BYTES') {
    const els: Uint8Array[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (typeof v !== 'string') throw bad(i, 'a string');
      els[i] = utf8(v);
    }
    return encodeBytes(els);
  }
  const out = new Uint8Array(n * elementSize(datatype));
  switch (datatype) {
    case 'BOOL':
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (typeof v !== 'boolean') throw bad(i, 'true or false');
        out[i] = v ? 1 : 0;
      }
      return out;
    case 'FP32':
    case 'FP64': {
      const view = typedView(datatype, out) as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) {
        const v = data[i];
        const f = typeof v === 'number' ? v : floatOf(v);
        if (f === undefined) throw bad(i, 'a number');
        view[i] = f;
      }
      return out;
    }
    case 'FP16': {
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) {
        const f = floatOf(data[i]);
        if (f === undefined) throw bad(i, 'a number');
        setFloat16(dv, i * 2, f, true);
      }
      return out;
    }
    case 'INT64':
    case 'UINT64': {
      const view = typedView(datatype, out) as BigInt64Array | BigUint64Array;
      const [lo, hi] = BIG_RANGE[datatype];
      for (let i = 0; i < n; i++) {
        const v = data[i];
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
        else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
        else throw bad(i, 'an integer');
        if (b < lo || b > hi) throw bad(i, `an integer in [${lo}, ${hi}]`);
        view[i] = b;
      }
      return out;
    }
    default: {
      const view = typedView(datatype, out) as Int8Array;
      const [lo, hi] = INT_RANGE[datatype];
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(i, 'an integer');
        if (v < lo || v > hi) throw bad(i, `an integer in [${lo}, ${hi}]`);
        view[i] = v;
      }
      return out;
    }
  }
}

/** Raw tensor bytes as the JSON text of a flat array (bigints written as exact digits). */
export function rawToJsonText(datatype: DataType, bytes: Uint8Array): string {
  switch (datatype) {
    case 'BYTES':
      return JSON.stringify(decodeStrings(bytes));
    case 'BOOL': {
      const parts = new Array<string>(bytes.length);
      for (let i = 0; i < bytes.length; i++) parts[i] = bytes[i] ? 'true' : 'false';
      return `[${parts.join(',')}]`;
    }
    case 'FP16': {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const vals = new Array<number>(bytes.byteLength / 2);
      for (let i = 0; i < vals.length; i++) vals[i] = getFloat16(dv, i * 2, true);
      return floatsToJson(vals);
    }
    case 'FP32':
    case 'FP64':
      return floatsToJson(typedView(datatype, bytes) as Float32Array);
    default:
      return `[${typedView(datatype, bytes).join(',')}]`;
  }
}

/** Like JSON.stringify of numbers, but -0 stays -0 and non-finite values become "NaN"/"Infinity" strings. */
function floatsToJson(v: ArrayLike<number>): string {
  // JSON.stringify is the fast path; it is exact unless a -0 or a non-finite value is present.
  let plain = true;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if ((x === 0 && 1 / x < 0) || x - x !== 0) {
      plain = false;
      break;
    }
  }
  if (plain) return JSON.stringify(Array.isArray(v) ? v : Array.from(v));
  const parts = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    parts[i] = x === 0 ? (Object.is(x, -0) ? '-0' : '0') : Number.isFinite(x) ? String(x) : `"${x}"`;
  }
  return `[${parts.join(',')}]`;
}

/** Raw tensor bytes as JS values: numbers, booleans, strings, and bigint for 64-bit integers. */
export function rawToValues(datatype: DataType, bytes: Uint8Array): unknown[] {
  switch (datatype) {
    case 'BYTES':
      return decodeStrings(bytes);
    case 'BOOL':
      return Array.from(bytes, (b) => b !== 0);
    case 'FP16': {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return Array.from({ length: bytes.byteLength / 2 }, (_, i) => getFloat16(dv, i * 2, true));
    }
    default:
      return Array.from(typedView(datatype, bytes) as Float32Array);
  }
}

/**
 * True when a 64-bit integer tensor's JSON data lost precision through JSON.parse. Walks the data
 * as jsonToRaw does (bounded, no recursion), so data nested too deeply fails here naming its input.
 */
export function lostInt64Precision(tensors: unknown, label: (name: string) => string = (n) => `tensor ${n}`): boolean {
  if (!Array.isArray(tensors)) return false;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    if (!t || typeof t !== 'object') continue;
    const { name, datatype, data } = t as { name?: unknown; datatype?: unknown; data?: unknown };
    if ((datatype === 'INT64' || datatype === 'UINT64') && Array.isArray(data)) {
      const flat = flatten(data, label(typeof name === 'string' ? `'${name}'` : String(i)));
      for (const v of flat) if (typeof v === 'number' && !Number.isSafeInteger(v)) return true;
    }
  }
  return false;
}

/**
 * Parse JSON again keeping integers beyond 2^53 as bigint; the slow path, used only when needed.
 * lossless-json recurses, so `parsed` (the same text through JSON.parse) is depth-checked first.
 */
export function parseJsonLossless(text: string, parsed?: unknown): unknown {
  // The margin leaves room for the body's own levels around tensor data nested MAX_NESTING deep.
  if (parsed !== undefined) checkNesting(parsed, 'request body', MAX_NESTING + 8);
  try {
    return parseLossless(text, undefined, (s: string) =>
      isInteger(s) && !isSafeNumber(s) ? BigInt(s) : Number(s));
  } catch (e) {
    // JSON.parse took the text; lossless-json is stricter (it refuses duplicate keys, for one).
    throw invalidArg(`request body is not valid JSON: ${(e as Error).message}`);
  }
}
