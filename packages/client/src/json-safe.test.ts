import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNesting, describeValue, stringifyChecked } from './json-safe.js';
import { InferenceError } from './errors.js';
import { lostInt64Precision } from './json-tensor.js';

const deep = (depth: number, inner = '1') => JSON.parse('['.repeat(depth) + inner + ']'.repeat(depth)) as unknown;

test('nesting is checked without recursion and the message gives the path', () => {
  checkNesting(deep(64), 'x');
  assert.throws(() => checkNesting(deep(65), 'x'), (e: unknown) =>
    e instanceof InferenceError && e.code === 'INVALID_ARGUMENT' && e.message === 'x is nested more than 64 levels deep (at [0][0][0][0]…)');
  assert.throws(() => checkNesting({ a: { b: deep(200_000) } }, 'body'), /body is nested more than 64 levels deep \(at a\.b\[0\]\[0\]…\)/);
  assert.throws(() => checkNesting(JSON.parse('{"a":'.repeat(100) + '1' + '}'.repeat(100)), 'p', 10), /p is nested more than 10 levels deep \(at a\.a\.a\.a…\)/);
  checkNesting([1, [2, [3]], { a: [] }], 'x', 3);
});

test('stringifyChecked refuses what JSON.stringify would overflow on, and writes bigints as digit strings', () => {
  assert.throws(() => JSON.stringify(deep(200_000)), RangeError);
  assert.throws(() => stringifyChecked(deep(200_000), "parameter 'p'"), /parameter 'p' is nested more than 64 levels deep/);
  assert.equal(stringifyChecked({ a: [1n << 64n] }, 'x'), '{"a":["18446744073709551616"]}');
});

test('describeValue is short and safe for any value', () => {
  assert.equal(describeValue(deep(200_000)), 'an array of 1');
  assert.equal(describeValue('x'.repeat(100)), `string "${'x'.repeat(40)}…"`);
  assert.equal(describeValue({}), 'an object');
  assert.equal(describeValue(null), 'null');
  assert.equal(describeValue(5), 'number 5');
});

test('the 64-bit precision check walks deep data without overflowing, naming the tensor', () => {
  assert.throws(() => lostInt64Precision([{ name: 'a', datatype: 'INT64', data: deep(100_000) }]), (e: unknown) =>
    e instanceof InferenceError && e.message === "tensor 'a': 'data' is nested more than 64 levels deep");
});
