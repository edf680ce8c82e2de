import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sweeper } from './sweep.js';

test('a sweeper hands over armed items once due, skips disarmed ones, and re-arms', async () => {
  const seen: string[] = [];
  const s = new Sweeper<string>((x) => {
    seen.push(x);
    if (x === 'again' && seen.length === 1) s.arm(x, 1);
  });
  s.arm('again', 1);
  s.arm('gone', 1);
  s.arm('later', 60_000);
  s.disarm('gone');
  while (seen.length < 2) await sleep(20);
  assert.deepEqual(seen, ['again', 'again']);
  assert.equal(s.size, 1);
  s.disarm('later');
  assert.equal(s.size, 0);
});
