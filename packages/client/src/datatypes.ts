// The 13 KServe v2 datatypes and what each costs in bytes on the wire.

import { invalidArg } from './errors.js';

export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES',
] as const;

export type DataType = (typeof DATATYPES)[number];

const SIZES: Record<DataType, number> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8,
  FP16: 2, FP32: 4, FP64: 8, BYTES: 0,
};

export function isDataType(s: unknown): s is DataType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SIZES, s);
}

/** A datatype from a request, or INVALID_ARGUMENT naming `what` and the value (shown safely, whatever it is). */
export function toDataType(v: unknown, what: string): DataType {
  if (isDataType(v)) return v;
  const shown = typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v) : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
  throw invalidArg(`${what}: unknown datatype ${shown}; expected one of ${DATATYPES.join(', ')}`);
}

/** Bytes per element; 0 for BYTES, whose elements vary in size. */
export function elementSize(dt: DataType): number {
  return SIZES[dt];
}

export type TypedArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigUint64Array | BigInt64Array | Float32Array | Float64Array;

type TypedArrayCtor = { new (buf: ArrayBufferLike, off: number, len: number): TypedArray; BYTES_PER_ELEMENT: number };

// FP16 is carried as its raw bits; conversion to numbers happens only where JSON needs it.
const VIEW: Record<Exclude<DataType, 'BYTES'>, TypedArrayCtor> = {
  BOOL: Uint8Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array,
  FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array,
};

/**
 * A typed view over raw little-endian tensor bytes. Zero-copy when the bytes are aligned
 * for the element size; one copy otherwise (protobuf-decoded bytes often sit at odd offsets).
 */
export function typedView(dt: Exclude<DataType, 'BYTES'>, bytes: Uint8Array): TypedArray {
  const Ctor = VIEW[dt];
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Ctor(copy.buffer, 0, bytes.byteLength / size);
}

/** The raw bytes behind a typed array, without copying. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
