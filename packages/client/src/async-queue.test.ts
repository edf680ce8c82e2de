import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncQueue } from './async-queue.js';

test('items pushed before and after the consumer waits arrive in order, then the end', async () => {
  const q = new AsyncQueue<number>();
  q.push(1);
  setTimeout(() => {
    q.push(2);
    q.end();
    q.push(3);
  }, 5);
  const got: number[] = [];
  for await (const v of q) got.push(v);
  assert.deepEqual(got, [1, 2]);
});

test('an error ends the stream after the items already queued', async () => {
  const q = new AsyncQueue<string>();
  q.push('a');
  q.end(new Error('boom'));
  const got: string[] = [];
  await assert.rejects(async () => {
    for await (const v of q) got.push(v);
  }, /boom/);
  assert.deepEqual(got, ['a']);
});
