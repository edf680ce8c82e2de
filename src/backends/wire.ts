// Moving tensors between threads: pack them into one fresh ArrayBuffer (one copy, each tensor
// 8-byte aligned so typed views need no further copy) and transfer it instead of cloning.

import type { DataType } from '../core/datatypes.js';
import type { Tensor } from '../core/tensor.js';

export interface TensorSlot {
  name: string;
  datatype: DataType;
  shape: number[];
  offset: number;
  length: number;
}

export interface PackedTensors {
  slots: TensorSlot[];
  buffer: ArrayBuffer;
}

const align8 = (n: number) => (n + 7) & ~7;

export function packTensors(tensors: readonly Tensor[]): PackedTensors {
  let total = 0;
  for (const t of tensors) total = align8(total) + t.data.byteLength;
  const buffer = new ArrayBuffer(align8(total));
  const bytes = new Uint8Array(buffer);
  const slots: TensorSlot[] = [];
  let off = 0;
  for (const t of tensors) {
    off = align8(off);
    bytes.set(t.data, off);
    slots.push({ name: t.name, datatype: t.datatype, shape: t.shape, offset: off, length: t.data.byteLength });
    off += t.data.byteLength;
  }
  return { slots, buffer };
}

export function unpackTensors(p: PackedTensors): Tensor[] {
  return p.slots.map((s) => ({
    name: s.name,
    datatype: s.datatype,
    shape: s.shape,
    data: new Uint8Array(p.buffer, s.offset, s.length),
  }));
}
