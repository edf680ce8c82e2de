// Tensors as the server carries them: raw little-endian bytes plus datatype and shape.
// BYTES tensors hold their serialized form (each element a 4-byte LE length, then its bytes),
// which is both the binary-extension and the gRPC raw wire format.

import { elementSize, type DataType } from './datatypes.js';
import { invalidArg } from './errors.js';

export type ParamValue = string | number | boolean | bigint;
export type Parameters = Record<string, ParamValue>;

export interface Tensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Uint8Array;
  parameters?: Parameters;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * A request's shape as every protocol must send it: non-negative safe integers whose product is a
 * safe integer too (so element counts and byte sizes are exact). The one check for REST and gRPC.
 */
export function checkShape(shape: readonly number[], what: string): void {
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isSafeInteger(d) || d < 0) {
      throw invalidArg(`${what}: shape ${shapeString(shape)} has dimension ${i} = ${d}; dimensions must be non-negative integers`);
    }
  }
  // Zeros are skipped so that [0, 2^40, 2^40] cannot slip huge dimensions past the check.
  let n = 1;
  for (const d of shape) if (d !== 0) n *= d;
  if (n > Number.MAX_SAFE_INTEGER) throw invalidArg(`${what}: shape ${shapeString(shape)} is too large: its non-zero dimensions multiply to more than 2^53`);
}

/** Serialize BYTES elements into the length-prefixed wire form. */
export function encodeBytes(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let off = 0;
  for (const e of elements) {
    dv.setUint32(off, e.byteLength, true);
    out.set(e, off + 4);
    off += 4 + e.byteLength;
  }
  return out;
}

/** Split length-prefixed BYTES into views over the same memory. Throws on a truncated buffer. */
export function decodeBytes(data: Uint8Array, what = 'BYTES tensor'): Uint8Array[] {
  const out: Uint8Array[] = [];
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  while (off < data.byteLength) {
    if (off + 4 > data.byteLength) {
      throw invalidArg(`${what}: truncated BYTES element length at byte ${off} of ${data.byteLength}`);
    }
    const len = dv.getUint32(off, true);
    if (off + 4 + len > data.byteLength) {
      throw invalidArg(`${what}: BYTES element ${out.length} claims ${len} bytes but only ${data.byteLength - off - 4} remain`);
    }
    out.push(data.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** BYTES elements decoded as UTF-8 (invalid sequences become U+FFFD). */
export function decodeStrings(data: Uint8Array, what = 'BYTES tensor'): string[] {
  return decodeBytes(data, what).map(fromUtf8);
}

/** Count BYTES elements without materializing them. */
export function countBytesElements(data: Uint8Array, what = 'BYTES tensor'): number {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  let n = 0;
  while (off < data.byteLength) {
    if (off + 4 > data.byteLength) throw invalidArg(`${what}: truncated BYTES element length at byte ${off} of ${data.byteLength}`);
    const len = dv.getUint32(off, true);
    off += 4 + len;
    if (off > data.byteLength) throw invalidArg(`${what}: BYTES element ${n} claims ${len} bytes but only ${data.byteLength - (off - len)} remain`);
    n++;
  }
  return n;
}

/**
 * Check that a tensor's bytes hold exactly the elements its shape promises.
 * `what` prefixes the message (e.g. "model 'simple' input 'INPUT0'").
 */
export function checkTensorSize(t: Tensor, what: string): void {
  const n = elementCount(t.shape);
  if (t.datatype === 'BYTES') {
    const got = countBytesElements(t.data, what);
    if (got !== n) {
      throw invalidArg(`${what}: expected ${n} BYTES elements for shape ${shapeString(t.shape)}, got ${got}`);
    }
    return;
  }
  const size = elementSize(t.datatype);
  const expected = n * size;
  if (t.data.byteLength !== expected) {
    const got = t.data.byteLength % size === 0 ? `${t.data.byteLength / size} elements (${t.data.byteLength} bytes)` : `${t.data.byteLength} bytes`;
    throw invalidArg(`${what}: expected ${n} elements (${expected} bytes) for ${t.datatype} shape ${shapeString(t.shape)}, got ${got}`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const fromUtf8 = (b: Uint8Array): string => decoder.decode(b);
