import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchKey, pickBatch } from './batcher.js';
import type { ExecuteRequest } from '../backends/backend.js';

const req = (rows: number, width = 4, outputs?: string[]): ExecuteRequest => ({
  inputs: [{ name: 'X', datatype: 'FP32', shape: [rows, width], data: new Uint8Array(rows * width * 4) }],
  outputs,
  parameters: {},
});

test('requests differing beyond dim 0, or in requested outputs, never share a batch', () => {
  assert.equal(batchKey(req(1)), batchKey(req(5)));
  assert.notEqual(batchKey(req(1, 4)), batchKey(req(1, 5)));
  assert.notEqual(batchKey(req(1, 4, ['A'])), batchKey(req(1, 4)));
  assert.equal(batchKey(req(1, 4, ['A', 'B'])), batchKey(req(1, 4, ['B', 'A'])));
});

test('the oldest request leads; compatible ones join up to max_batch_size', () => {
  const q = [req(3), req(1, 5), req(4), req(2), req(1)];
  const { take, ready } = pickBatch(q, { maxBatchSize: 8, preferred: [], maxDelayMs: 0 }, 0);
  assert.deepEqual(take, [0, 2, 4]);
  assert.equal(ready, true);
});

test('a batch short of the target waits for the delay; a preferred size goes at once', () => {
  const policy = { maxBatchSize: 8, preferred: [4], maxDelayMs: 5 };
  assert.equal(pickBatch([req(1), req(1)], policy, 1).ready, false);
  assert.equal(pickBatch([req(1), req(1)], policy, 6).ready, true);
  assert.equal(pickBatch([req(2), req(2)], policy, 0).ready, true);
});

test('the largest preferred size the queue fills exactly is taken, not more', () => {
  const policy = { maxBatchSize: 8, preferred: [2, 4], maxDelayMs: 1000 };
  const q = [req(1), req(1), req(1), req(1), req(1), req(1), req(1)];
  assert.deepEqual(pickBatch(q, policy, 0), { take: [0, 1, 2, 3], ready: true, rows: 4 });
  assert.deepEqual(pickBatch([req(3), req(3)], policy, 0), { take: [0, 1], ready: false, rows: 6 });
  assert.deepEqual(pickBatch([req(3), req(3)], policy, 2000), { take: [0, 1], ready: true, rows: 6 });
});
