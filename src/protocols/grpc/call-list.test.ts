import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallList, type Listed } from './call-list.js';

const call = (name: string): Listed & { name: string } => ({ name, listed: false, streaming: false });

test('a call list adds, removes from any place, ignores repeats, and lists what is left', () => {
  const l = new CallList<Listed & { name: string }>();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(call);
  l.add(a, false);
  l.add(b, true);
  l.add(c, false);
  l.add(d, true);
  l.add(b, false);
  assert.equal(l.size, 4);
  assert.equal(b.streaming, true, 'a repeated add changes nothing');
  l.delete(c);
  l.delete(c);
  assert.deepEqual(l.all().map((x) => x.name).sort(), ['a', 'b', 'd']);
  l.delete(d);
  l.delete(a);
  assert.deepEqual(l.all().map((x) => x.name), ['b']);
  assert.equal(l.size, 1);
  for (const x of l.all()) l.delete(x);
  assert.equal(l.size, 0);
  assert.deepEqual(l.all(), []);
  l.add(a, true);
  assert.deepEqual(l.all().map((x) => [x.name, x.streaming]), [['a', true]]);
});
