// A tensor with zero-copy accessors: what a TypeScript model sees of its inputs and what an SDK
// user reads of a result.

import { typedView, type DataType, type TypedArray } from './datatypes.js';
import { rawToValues } from './json-tensor.js';
import { decodeBytes, decodeStrings, type Tensor } from './tensor.js';

export class TensorView implements Tensor {
  constructor(
    readonly name: string,
    readonly datatype: DataType,
    readonly shape: number[],
    /** Raw little-endian bytes; BYTES in their length-prefixed form. */
    readonly data: Uint8Array,
  ) {}

  /** A typed view of the elements (FP16 as raw Uint16 bits); copies only when unaligned. Not for BYTES. */
  typed<T extends TypedArray = TypedArray>(): T {
    if (this.datatype === 'BYTES') throw new Error(`tensor '${this.name}' is BYTES; use strings() or bytes()`);
    return typedView(this.datatype, this.data) as T;
  }

  /** BYTES elements as raw bytes. */
  bytes(): Uint8Array[] {
    return decodeBytes(this.data, `tensor '${this.name}'`);
  }

  /** BYTES elements decoded as UTF-8. */
  strings(): string[] {
    return decodeStrings(this.data, `tensor '${this.name}'`);
  }

  /** Elements as JS values: numbers (FP16 converted), booleans, strings, bigint for 64-bit ints. */
  values(): unknown[] {
    return rawToValues(this.datatype, this.data);
  }
}
