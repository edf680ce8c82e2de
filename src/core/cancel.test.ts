import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CancelWatchers } from './cancel.js';

test('cancel runs every watcher once, in the order they came, and marks the hook cancelled', () => {
  const w = new CancelWatchers();
  const seen: string[] = [];
  w.onCancel(() => seen.push('a'));
  w.onCancel(() => seen.push('b'));
  w.onCancel(() => seen.push('c'));
  assert.equal(w.cancelled, false);
  w.cancel();
  w.cancel();
  assert.equal(w.cancelled, true);
  assert.deepEqual(seen, ['a', 'b', 'c']);
});

test('a watcher taken off is not run, whether it was the first or a later one', () => {
  const w = new CancelWatchers();
  const seen: string[] = [];
  const a = () => seen.push('a');
  const b = () => seen.push('b');
  const c = () => seen.push('c');
  w.onCancel(a);
  w.onCancel(b);
  w.onCancel(c);
  w.offCancel(a);
  w.offCancel(c);
  w.offCancel(() => {}); // never added: nothing happens
  w.cancel();
  assert.deepEqual(seen, ['b']);
});

test('the signal hears the same cancel as the watchers, with its reason, whether it was made before or after', () => {
  const before = new CancelWatchers();
  const signal = before.signal;
  assert.equal(before.signal, signal); // made once
  const seen: string[] = [];
  signal.addEventListener('abort', () => seen.push(`signal ${String(signal.reason)}`));
  before.onCancel(() => seen.push('watcher'));
  before.cancel('gone');
  before.cancel('again');
  assert.deepEqual(seen, ['signal gone', 'watcher']);

  const after = new CancelWatchers();
  after.cancel('late');
  assert.equal(after.signal.aborted, true);
  assert.equal(after.signal.reason, 'late');
});
