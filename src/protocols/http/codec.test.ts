import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeInferRequest, encodeInferResponse } from './codec.js';
import { encodeBytes } from '../../core/tensor.js';

test('binary extension: JSON header then each binary input in order', () => {
  const a = Buffer.from(new Float32Array([1, 2]).buffer);
  const b = Buffer.from(encodeBytes([Buffer.from('xy')]));
  const head = Buffer.from(JSON.stringify({
    id: '7',
    inputs: [
      { name: 'A', datatype: 'FP32', shape: [2], parameters: { binary_data_size: a.length } },
      { name: 'J', datatype: 'INT32', shape: [1], data: [5] },
      { name: 'B', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: b.length } },
    ],
    outputs: [{ name: 'O1', parameters: { binary_data: true } }, { name: 'O2' }],
    parameters: { binary_data_output: false, priority: 3 },
  }));
  const d = decodeInferRequest(Buffer.concat([head, a, b]), head.length, 'm');
  assert.equal(d.request.id, '7');
  assert.deepEqual(d.request.inputs.map((t) => [t.name, t.data.byteLength]), [['A', 8], ['J', 4], ['B', 6]]);
  assert.deepEqual(Buffer.from(d.request.inputs[2].data), b);
  assert.equal(d.binaryOutputs.get('O1'), true);
  assert.equal(d.binaryOutputs.has('O2'), false);
  assert.equal(d.binaryDefault, false);
  assert.equal(d.request.parameters.priority, 3);
});

test('binary sizes that lie about the body are rejected', () => {
  const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'A', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }] }));
  assert.throws(() => decodeInferRequest(Buffer.concat([head, Buffer.alloc(4)]), head.length, 'm'), /binary_data_size 8 runs past the end of the body \(4 bytes left\)/);
  assert.throws(() => decodeInferRequest(Buffer.concat([head, Buffer.alloc(12)]), head.length, 'm'), /add up to 8 bytes but 12 bytes follow/);
  assert.throws(() => decodeInferRequest(head, head.length + 1, 'm'), /Inference-Header-Content-Length is \d+ but the body has only \d+ bytes/);
});

test('responses: JSON data inline, binary outputs after the header with their sizes', () => {
  const res = {
    modelName: 'm', modelVersion: '1', id: 'q',
    outputs: [
      { name: 'X', datatype: 'INT64' as const, shape: [1], data: new Uint8Array(BigInt64Array.of(2n ** 60n).buffer) },
      { name: 'Y', datatype: 'UINT8' as const, shape: [3], data: Uint8Array.of(1, 2, 3) },
    ],
  };
  const enc = encodeInferResponse(res, (n) => n === 'Y');
  const body = Buffer.concat(enc.chunks);
  const json = body.subarray(0, enc.headerLength).toString();
  assert.equal(enc.text, undefined);
  assert.match(json, /"data":\[1152921504606846976\]/);
  assert.match(json, /"name":"Y","datatype":"UINT8","shape":\[3\],"parameters":\{"binary_data_size":3\}/);
  assert.deepEqual(Array.from(body.subarray(enc.headerLength)), [1, 2, 3]);
  const text = encodeInferResponse(res, () => false);
  assert.equal(text.headerLength, undefined);
  assert.match(text.text!, /"name":"Y","datatype":"UINT8","shape":\[3\],"data":\[1,2,3\]/);
  // Large binary tensors are not copied: they follow the JSON header as they are.
  const big = { ...res, outputs: [{ name: 'Z', datatype: 'UINT8' as const, shape: [20_000], data: new Uint8Array(20_000).fill(9) }] };
  const apart = encodeInferResponse(big, () => true);
  assert.equal(apart.chunks.length, 2);
  assert.equal(apart.chunks[1], big.outputs[0].data);
  assert.equal(apart.chunks[0].byteLength, apart.headerLength);
});
