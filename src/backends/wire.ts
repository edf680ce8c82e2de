// Moving tensors between threads: pack them into one fresh ArrayBuffer (one copy, each tensor
// 8-byte aligned so typed views need no further copy) and transfer it instead of cloning. A large
// tensor whose buffer the request handed over (see handOver) is not copied: that buffer travels.

import type { DataType } from '../core/datatypes.js';
import { takeOver, type Tensor } from '../core/tensor.js';

export interface TensorSlot {
  name: string;
  datatype: DataType;
  shape: number[];
  offset: number;
  length: number;
  /** Index into the message's transferred `given` buffers; absent: the packed buffer. */
  given?: number;
}

export interface PackedTensors {
  slots: TensorSlot[];
  buffer: ArrayBuffer;
  given?: ArrayBuffer[];
}

const align8 = (n: number) => (n + 7) & ~7;

/** Smaller tensors are copied even from a handed-over buffer: one packed buffer is cheaper to send. */
export const GIVE_MIN_BYTES = 16 * 1024;

/** Which tensors travel in their own (handed-over) buffer: index into `given`, or -1 for a copy. */
class Giver {
  readonly given: ArrayBuffer[] = [];
  private readonly index = new Map<ArrayBufferLike, number>();
  constructor(private readonly enabled: boolean) {}

  of(t: Tensor): number {
    if (!this.enabled || t.data.byteLength < GIVE_MIN_BYTES) return -1;
    const buf = t.data.buffer;
    let i = this.index.get(buf);
    if (i !== undefined) return i;
    if (!takeOver(buf)) return -1;
    this.index.set(buf, (i = this.given.length));
    this.given.push(buf);
    return i;
  }
}

const NO_GIVING = new Giver(false);

const givenSlot = (t: Tensor, i: number): TensorSlot =>
  ({ name: t.name, datatype: t.datatype, shape: t.shape, offset: t.data.byteOffset, length: t.data.byteLength, given: i });

export function packTensors(tensors: readonly Tensor[], giver: Giver = NO_GIVING): PackedTensors {
  const gives = tensors.map((t) => giver.of(t));
  let total = 0;
  tensors.forEach((t, k) => {
    if (gives[k] < 0) total = align8(total) + t.data.byteLength;
  });
  const buffer = new ArrayBuffer(align8(total));
  const bytes = new Uint8Array(buffer);
  const slots: TensorSlot[] = [];
  let off = 0;
  tensors.forEach((t, k) => {
    if (gives[k] >= 0) return void slots.push(givenSlot(t, gives[k]));
    off = align8(off);
    bytes.set(t.data, off);
    slots.push({ name: t.name, datatype: t.datatype, shape: t.shape, offset: off, length: t.data.byteLength });
    off += t.data.byteLength;
  });
  return giver.given.length ? { slots, buffer, given: giver.given } : { slots, buffer };
}

export function unpackTensors(p: PackedTensors): Tensor[] {
  return p.slots.map((s) => ({
    name: s.name,
    datatype: s.datatype,
    shape: s.shape,
    data: new Uint8Array(s.given === undefined ? p.buffer : p.given![s.given], s.offset, s.length),
  }));
}

/**
 * The inputs of a batch of requests, input by input: every request's tensor for one input sits
 * back to back, which is the input concatenated along dim 0, so a backend can run the batch
 * without another copy. Each group starts 8-byte aligned. Slots come back per request, in each
 * request's own input order. With `give`, large tensors in handed-over buffers travel in them instead.
 */
export function packBatch(requests: readonly (readonly Tensor[])[], give = false): { buffer: ArrayBuffer; slots: TensorSlot[][]; given?: ArrayBuffer[] } {
  const giver = give ? new Giver(true) : NO_GIVING;
  // One request (no dynamic batching) with distinct input names: the same layout, without the grouping.
  if (requests.length === 1 && (requests[0].length < 2 || new Set(requests[0].map((t) => t.name)).size === requests[0].length)) {
    const one = packTensors(requests[0], giver);
    return { buffer: one.buffer, slots: [one.slots], given: one.given };
  }
  const gives = requests.map((r) => r.map((t) => giver.of(t)));
  const names: string[] = [];
  for (const r of requests) for (const t of r) if (!names.includes(t.name)) names.push(t.name);
  let total = 0;
  for (const name of names) {
    total = align8(total);
    requests.forEach((r, ri) => r.forEach((t, ti) => {
      if (t.name === name && gives[ri][ti] < 0) total += t.data.byteLength;
    }));
  }
  const buffer = new ArrayBuffer(align8(total));
  const bytes = new Uint8Array(buffer);
  const slots: TensorSlot[][] = requests.map((r) => new Array<TensorSlot>(r.length));
  let off = 0;
  for (const name of names) {
    off = align8(off);
    requests.forEach((r, ri) => r.forEach((t, ti) => {
      if (t.name !== name) return;
      if (gives[ri][ti] >= 0) return void (slots[ri][ti] = givenSlot(t, gives[ri][ti]));
      bytes.set(t.data, off);
      slots[ri][ti] = { name: t.name, datatype: t.datatype, shape: t.shape, offset: off, length: t.data.byteLength };
      off += t.data.byteLength;
    }));
  }
  return giver.given.length ? { buffer, slots, given: giver.given } : { buffer, slots };
}
