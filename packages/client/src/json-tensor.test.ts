import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonToRaw, lostInt64Precision, parseJsonLossless, rawToJsonText, rawToValues } from './json-tensor.js';
import { InferenceError } from './errors.js';

test('nested JSON data is flattened row-major', () => {
  const raw = jsonToRaw('INT32', [[1, 2], [3, 4]], 'x');
  assert.deepEqual(Array.from(new Int32Array(raw.buffer)), [1, 2, 3, 4]);
});

test('integers are range-checked per datatype with the element named', () => {
  assert.throws(() => jsonToRaw('UINT8', [1, 256], "input 'a'"), (e: unknown) =>
    e instanceof InferenceError && /input 'a': element 1 of UINT8 data must be an integer in \[0, 255\], got number 256/.test(e.message));
  assert.throws(() => jsonToRaw('INT32', [1.5], 'x'), /element 0 of INT32 data must be an integer, got number 1.5/);
  assert.throws(() => jsonToRaw('FP32', ['a'], 'x'), /must be a number, got string "a"/);
  assert.throws(() => jsonToRaw('BOOL', [1], 'x'), /must be true or false/);
  assert.throws(() => jsonToRaw('BYTES', [1], 'x'), /must be a string/);
  assert.throws(() => jsonToRaw('INT64', ['9223372036854775808'], 'x'), /integer in \[-9223372036854775808, 9223372036854775807\]/);
  assert.throws(() => jsonToRaw('FP32', 'nope', 'x'), /'data' must be an array/);
});

test('64-bit integers are exact through bigint, digit strings and JSON text', () => {
  const raw = jsonToRaw('UINT64', [18446744073709551615n, '9007199254740993', 7], 'x');
  assert.equal(rawToJsonText('UINT64', raw), '[18446744073709551615,9007199254740993,7]');
  assert.deepEqual(rawToValues('UINT64', raw), [18446744073709551615n, 9007199254740993n, 7n]);
});

test('lossless re-parse happens only when 64-bit data lost precision', () => {
  const text = '{"inputs":[{"datatype":"INT64","data":[9007199254740993]}]}';
  const fast = JSON.parse(text) as { inputs: unknown[] };
  assert.equal(lostInt64Precision(fast.inputs), true);
  assert.equal(lostInt64Precision([{ datatype: 'INT64', data: [1, 2] }]), false);
  assert.equal(lostInt64Precision([{ datatype: 'FP64', data: [1e300] }]), false);
  const exact = parseJsonLossless(text) as { inputs: { data: unknown[] }[] };
  assert.equal(exact.inputs[0].data[0], 9007199254740993n);
  // Duplicate keys pass JSON.parse but not lossless-json: a clean INVALID_ARGUMENT, not a 500.
  assert.throws(() => parseJsonLossless('{"a":1,"a":[9007199254740993]}'), (e: unknown) =>
    e instanceof InferenceError && e.code === 'INVALID_ARGUMENT' && /not valid JSON: Duplicate key 'a'/.test(e.message));
});

test('floats: -0 survives, non-finite values become strings and parse back', () => {
  const raw = jsonToRaw('FP64', [-0, 'NaN', 'Infinity', '-Infinity', 0.1], 'x');
  const text = rawToJsonText('FP64', raw);
  assert.equal(text, '[-0,"NaN","Infinity","-Infinity",0.1]');
  const back = jsonToRaw('FP64', JSON.parse(text), 'x');
  assert.deepEqual(Buffer.from(back), Buffer.from(raw));
});

test('FP16 converts to and from numbers', () => {
  const raw = jsonToRaw('FP16', [1, -2, 65504, 0.1], 'x');
  assert.deepEqual(Array.from(new Uint16Array(raw.buffer)), [0x3c00, 0xc000, 0x7bff, 0x2e66]);
  assert.deepEqual(rawToValues('FP16', raw), [1, -2, 65504, 0.0999755859375]);
});
