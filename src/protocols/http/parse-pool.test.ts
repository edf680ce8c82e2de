import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from '../../core/errors.js';
import { decodeInferRequest } from './codec.js';
import { ParsePool } from './parse-pool.js';

/** A body in its own ArrayBuffer, as the server reads them. */
const own = (s: string | Buffer) => {
  const src = typeof s === 'string' ? Buffer.from(s) : s;
  const b = Buffer.allocUnsafeSlow(src.byteLength);
  src.copy(b);
  return b;
};
const json = (inputs: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ inputs, ...extra });

test('a large body decodes on a thread to exactly what the main thread decodes', async () => {
  const pool = new ParsePool(1, 100);
  try {
    const text = json([
      { name: 'A', datatype: 'FP32', shape: [2, 2], data: [[1.5, -0], [3, 'NaN']] },
      { name: 'B', datatype: 'INT64', shape: [2], data: ['9007199254740993', -5] },
      { name: 'C', datatype: 'BYTES', shape: [2], data: ['x', 'héllo'] },
    ], { id: 'r1', parameters: { binary_data_output: true, big: 123 }, outputs: [{ name: 'O', parameters: { binary_data: false } }] });
    const body = own(text);
    const got = await pool.decodeInfer(body, undefined, 'm', '2');
    assert.equal(body.byteLength, 0, 'the body was handed to the thread');
    const want = decodeInferRequest(own(text), undefined, 'm', '2');
    assert.deepEqual(got.request.inputs.map((t) => ({ ...t, data: Buffer.from(t.data) })), want.request.inputs.map((t) => ({ ...t, data: Buffer.from(t.data) })));
    assert.deepEqual({ ...got.request, inputs: [] }, { ...want.request, inputs: [] });
    assert.deepEqual(got.binaryOutputs, want.binaryOutputs);
    assert.equal(got.binaryDefault, true);
  } finally {
    await pool.close();
  }
});

test('the binary extension works on a thread, and a body that is a slice is copied, not taken', async () => {
  const pool = new ParsePool(1, 10);
  try {
    const head = Buffer.from(json([{ name: 'A', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } }]));
    const whole = Buffer.concat([Buffer.alloc(3), head, Buffer.from(Int32Array.of(7, -8).buffer)]);
    const body = whole.subarray(3);
    const got = await pool.decodeInfer(body, head.byteLength, 'm');
    assert.equal(body.byteLength, head.byteLength + 8);
    assert.deepEqual(Array.from(new Int32Array(got.request.inputs[0].data.slice().buffer)), [7, -8]);
  } finally {
    await pool.close();
  }
});

test('errors from a thread carry the same code and message', async () => {
  const pool = new ParsePool(1, 10);
  try {
    for (const text of ['{"inputs": [', json([{ name: 'A', datatype: 'FP32', shape: [2], data: [1, 'x'] }]), json([{ name: 'A', datatype: 'NOPE', shape: [1], data: [1] }])]) {
      let want: unknown;
      try {
        decodeInferRequest(own(text), undefined, 'm');
      } catch (e) {
        want = e;
      }
      assert.ok(want instanceof InferenceError);
      await assert.rejects(pool.decodeInfer(own(text), undefined, 'm'), (e: unknown) =>
        e instanceof InferenceError && e.code === want.code && e.message === want.message);
    }
  } finally {
    await pool.close();
  }
});

test('small bodies stay on the main thread; aborted ones are not parsed', async () => {
  const pool = new ParsePool(1, 1000);
  try {
    const body = own(json([{ name: 'A', datatype: 'INT8', shape: [1], data: [1] }]));
    const got = pool.decodeInfer(body, undefined, 'm');
    assert.ok(body.byteLength > 0, 'a small body was handed over');
    assert.equal((await got).request.inputs[0].data[0], 1);
    const big = own(json([{ name: 'A', datatype: 'INT8', shape: [2000], data: new Array(2000).fill(1) }]));
    await assert.rejects(pool.decodeInfer(big, undefined, 'm', undefined, AbortSignal.abort(new Error('gone'))), /gone/);
  } finally {
    await pool.close();
  }
});
