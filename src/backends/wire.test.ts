import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packBatch, packTensors, unpackTensors } from './wire.js';
import type { Tensor } from '../core/tensor.js';

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
