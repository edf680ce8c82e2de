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

/**
 * The inputs of a batch of requests, input by input: every request's tensor for one input sits
 * back to back, which is the input concatenated along dim 0, so a backend can run the batch
 * without another copy. Each group starts 8-byte aligned. Slots come back per request, in each
 * request's own input order.
 */
export function packBatch(requests: readonly (readonly Tensor[])[]): { buffer: ArrayBuffer; slots: TensorSlot[][] } {
  // One request (no dynamic batching) with distinct input names: the same layout, without the grouping.
  if (requests.length === 1 && (requests[0].length < 2 || new Set(requests[0].map((t) => t.name)).size === requests[0].length)) {
    const one = packTensors(requests[0]);
    return { buffer: one.buffer, slots: [one.slots] };
  }
  const names: string[] = [];
  for (const r of requests) for (const t of r) if (!names.includes(t.name)) names.push(t.name);
  let total = 0;
  for (const name of names) {
    total = align8(total);
    for (const r of requests) for (const t of r) if (t.name === name) total += t.data.byteLength;
  }
  const buffer = new ArrayBuffer(align8(total));
  const bytes = new Uint8Array(buffer);
  const slots: TensorSlot[][] = requests.map((r) => new Array<TensorSlot>(r.length));
  let off = 0;
  for (const name of names) {
    off = align8(off);
    requests.forEach((r, ri) => r.forEach((t, ti) => {
      if (t.name !== name) return;
      bytes.set(t.data, off);
      slots[ri][ti] = { name: t.name, datatype: t.datatype, shape: t.shape, offset: off, length: t.data.byteLength };
      off += t.data.byteLength;
    }));
  }
  return { buffer, slots };
}
