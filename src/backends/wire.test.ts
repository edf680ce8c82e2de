import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GIVE_MIN_BYTES, packBatch, packTensors, unpackTensors } from './wire.js';
import { handOver, takeOver, type Tensor } from '../core/tensor.js';

const t = (name: string, bytes: number[]): Tensor => ({ name, datatype: 'UINT8', shape: [1, bytes.length], data: Uint8Array.from(bytes) });

test('packTensors aligns each tensor to 8 bytes and round-trips', () => {
  const p = packTensors([t('a', [1, 2, 3]), t('b', [4])]);
  assert.deepEqual(p.slots.map((s) => s.offset), [0, 8]);
  assert.deepEqual(unpackTensors(p).map((x) => Array.from(x.data)), [[1, 2, 3], [4]]);
});

test('packBatch lays each input of every request back to back: the dim-0 concatenation', () => {
  const { buffer, slots } = packBatch([[t('x', [1, 2, 3]), t('y', [9])], [t('y', [8]), t('x', [4, 5, 6])]]);
  const bytes = new Uint8Array(buffer);
  const x0 = slots[0][0];
  const x1 = slots[1][1];
  assert.equal(x0.offset % 8, 0);
  assert.equal(x1.offset, x0.offset + 3);
  assert.deepEqual(Array.from(bytes.subarray(x0.offset, x1.offset + x1.length)), [1, 2, 3, 4, 5, 6]);
  const y0 = slots[0][1];
  const y1 = slots[1][0];
  assert.equal(y0.offset % 8, 0);
  assert.equal(y1.offset, y0.offset + 1);
  assert.deepEqual(unpackTensors({ buffer, slots: slots[1] }).map((s) => [s.name, Array.from(s.data)]), [['y', [8]], ['x', [4, 5, 6]]]);
});

test('a large tensor in a handed-over buffer travels in that buffer; small ones and others are copied', () => {
  const body = new Uint8Array(GIVE_MIN_BYTES * 3);
  body.fill(7, 8);
  handOver(body.buffer);
  const big = (name: string, at: number): Tensor => ({ name, datatype: 'UINT8', shape: [1, GIVE_MIN_BYTES], data: body.subarray(at, at + GIVE_MIN_BYTES) });
  const small: Tensor = { name: 's', datatype: 'UINT8', shape: [1, 2], data: body.subarray(1, 3) };
  const p = packBatch([[big('a', 8), small, big('b', 8 + GIVE_MIN_BYTES)]], true);
  assert.equal(p.given?.length, 1, 'one buffer, given once for both tensors in it');
  assert.equal(p.given![0], body.buffer);
  assert.deepEqual(p.slots[0].map((s) => s.given), [0, undefined, 0]);
  assert.deepEqual(p.slots[0].map((s) => s.offset), [8, 0, 8 + GIVE_MIN_BYTES]);
  const back = unpackTensors({ buffer: p.buffer, slots: p.slots[0], given: p.given });
  assert.deepEqual(back.map((x) => x.data.byteLength), [GIVE_MIN_BYTES, 2, GIVE_MIN_BYTES]);
  assert.ok(back[0].data.every((b) => b === 7));
  assert.deepEqual(Array.from(back[1].data), [0, 0]);
  // Given once only: a second packing (e.g. a retry) copies.
  assert.equal(packBatch([[big('a', 8)]], true).given, undefined);
  // Without `give` (a staged request, which may be taken back and sent again), nothing is taken.
  const other = new Uint8Array(GIVE_MIN_BYTES);
  handOver(other.buffer);
  assert.equal(packBatch([[{ name: 'a', datatype: 'UINT8', shape: [1, GIVE_MIN_BYTES], data: other }]]).given, undefined);
  assert.equal(takeOver(other.buffer), true);
});

test('batched requests: given tensors keep their buffers, the rest is grouped as before', () => {
  const one = new Uint8Array(GIVE_MIN_BYTES).fill(1);
  const two = new Uint8Array(GIVE_MIN_BYTES).fill(2);
  handOver(one.buffer);
  const mk = (data: Uint8Array): Tensor => ({ name: 'x', datatype: 'UINT8', shape: [1, data.byteLength], data });
  const p = packBatch([[mk(one)], [mk(two)]], true);
  assert.deepEqual(p.given, [one.buffer]);
  assert.deepEqual(p.slots.map((s) => s[0].given), [0, undefined]);
  assert.deepEqual(p.slots.map((s) => unpackTensors({ buffer: p.buffer, slots: s, given: p.given })[0].data[0]), [1, 2]);
});
