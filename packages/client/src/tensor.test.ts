import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkShape, checkTensorSize, countBytesElements, decodeBytes, encodeBytes, elementCount } from './tensor.js';
import { InferenceError } from './errors.js';
import { typedView } from './datatypes.js';

test('BYTES codec round-trips empty, NUL and invalid UTF-8 elements byte-exactly', () => {
  const els = [new Uint8Array(0), Uint8Array.of(0, 0, 0), Uint8Array.of(0xff, 0xfe, 0x80), Buffer.from('héllo')];
  const wire = encodeBytes(els);
  assert.equal(wire.byteLength, 4 * 4 + 0 + 3 + 3 + 6);
  const back = decodeBytes(wire);
  assert.deepEqual(back.map((b) => Buffer.from(b).toString('hex')), els.map((b) => Buffer.from(b).toString('hex')));
  assert.equal(countBytesElements(wire), 4);
});

test('truncated BYTES are rejected with a message saying where', () => {
  const wire = encodeBytes([Buffer.from('abcdef')]);
  assert.throws(() => decodeBytes(wire.subarray(0, 7), 'input X'), (e: unknown) =>
    e instanceof InferenceError && e.code === 'INVALID_ARGUMENT' && /input X: BYTES element 0 claims 6 bytes/.test(e.message));
  assert.throws(() => countBytesElements(wire.subarray(0, 2)), /truncated BYTES element length/);
});

test('checkTensorSize compares bytes against shape for fixed-size types and element count for BYTES', () => {
  assert.equal(elementCount([2, 3, 4]), 24);
  assert.equal(elementCount([]), 1);
  checkTensorSize({ name: 'a', datatype: 'FP32', shape: [2, 2], data: new Uint8Array(16) }, 'x');
  assert.throws(() => checkTensorSize({ name: 'a', datatype: 'FP32', shape: [2, 2], data: new Uint8Array(12) }, "input 'a'"),
    /input 'a': expected 4 elements \(16 bytes\) for FP32 shape \[2,2\], got 3 elements \(12 bytes\)/);
  assert.throws(() => checkTensorSize({ name: 'b', datatype: 'BYTES', shape: [3], data: encodeBytes([Buffer.from('x')]) }, "input 'b'"),
    /expected 3 BYTES elements for shape \[3\], got 1/);
});

test('typedView is zero-copy when aligned and copies when not', () => {
  const buf = new Uint8Array(12);
  new Float32Array(buf.buffer).set([1, 2, 3]);
  const v = typedView('FP32', buf.subarray(4));
  assert.equal(v.buffer, buf.buffer);
  assert.deepEqual(Array.from(v as Float32Array), [2, 3]);
  const odd = new Uint8Array(13);
  odd.set(buf, 1);
  const w = typedView('FP32', odd.subarray(1));
  assert.notEqual(w.buffer, odd.buffer);
  assert.deepEqual(Array.from(w as Float32Array), [1, 2, 3]);
});

test('shapes: non-negative safe integers whose product stays below 2^53', () => {
  checkShape([], 'x');
  checkShape([0, 5, 2 ** 30], 'x');
  assert.throws(() => checkShape([1, -1], "input 'a'"), (e: unknown) => e instanceof InferenceError && e.code === 'INVALID_ARGUMENT' &&
    e.message === "input 'a': shape [1,-1] has dimension 1 = -1; dimensions must be non-negative integers");
  assert.throws(() => checkShape([1.5], 'x'), /dimension 0 = 1.5/);
  assert.throws(() => checkShape([2 ** 53], 'x'), /dimension 0 = 9007199254740992/);
  assert.throws(() => checkShape([NaN], 'x'), /dimension 0 = NaN/);
  assert.throws(() => checkShape([2 ** 27, 2 ** 27], 'x'), /too large: its non-zero dimensions multiply to more than 2\^53/);
  assert.throws(() => checkShape([0, 2 ** 40, 2 ** 40], 'x'), /too large/);
});
