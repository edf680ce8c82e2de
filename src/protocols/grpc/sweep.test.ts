import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SWEEP_MS, Sweeper } from './sweep.js';

interface Item { name: string; slot: number }
const item = (name: string): Item => ({ name, slot: 0 });

test('a sweeper hands over armed items once due, skips disarmed ones, and re-arms', async () => {
  const seen: string[] = [];
  const again = item('again');
  const gone = item('gone');
  const later = item('later');
  const s = new Sweeper<'slot', Item>('slot', (x) => {
    seen.push(x.name);
    if (x === again && seen.length === 1) s.arm(x, 1);
  });
  s.arm(again, 1);
  s.arm(gone, 1);
  s.arm(later, 60_000);
  s.disarm(gone);
  while (seen.length < 2) await sleep(20);
  assert.deepEqual(seen, ['again', 'again']);
  assert.equal(s.size, 1);
  s.disarm(later);
  assert.equal(s.size, 0);
});

test('an item re-armed or disarmed and armed again while listed is handed over once', async () => {
  const seen: string[] = [];
  const s = new Sweeper<'slot', Item>('slot', (x) => seen.push(x.name));
  const a = item('a');
  s.arm(a, 2 * SWEEP_MS);
  // Re-armed while listed, and disarmed then armed again: still one entry, one hand-over.
  s.arm(a, 2 * SWEEP_MS);
  s.disarm(a);
  s.arm(a, 2 * SWEEP_MS);
  while (seen.length < 1) await sleep(10);
  await sleep(4 * SWEEP_MS);
  assert.deepEqual(seen, ['a']);
  assert.equal(a.slot, 0);
});

test('a disarmed item leaves the list at once, wherever it is, and the others still come due', async () => {
  const seen: string[] = [];
  const s = new Sweeper<'slot', Item>('slot', (x) => seen.push(x.name));
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item);
  for (const x of [a, b, c, d]) s.arm(x, 1);
  s.disarm(b);
  assert.equal(s.size, 3);
  assert.equal(b.slot, 0);
  // The last item moved into b's place and is still found there.
  s.disarm(d);
  s.arm(d, 1);
  s.disarm(a);
  assert.equal(s.size, 2);
  while (seen.length < 2) await sleep(10);
  await sleep(3 * SWEEP_MS);
  assert.deepEqual(seen.sort(), ['c', 'd']);
  assert.equal(s.size, 0);
  for (const x of [a, b, c, d]) assert.equal(x.slot, 0);
});
