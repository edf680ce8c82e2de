import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetLease, ByteBudget, defaultInflightBytes } from './budget.js';
import { InferenceError } from './errors.js';

const exhausted = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === 'RESOURCE_EXHAUSTED' && re.test(e.message);

test('tryAcquire takes what fits and release gives it back once', () => {
  const b = new ByteBudget(100);
  const r1 = b.tryAcquire(60)!;
  assert.equal(b.used, 60);
  assert.equal(b.tryAcquire(50), undefined);
  const r2 = b.tryAcquire(40)!;
  assert.equal(b.used, 100);
  r1();
  r1();
  assert.equal(b.used, 40);
  r2();
  assert.equal(b.used, 0);
  assert.equal(b.limit, 100);
});

test('a request larger than the whole budget is refused at once, naming sizes and flag', async () => {
  const b = new ByteBudget(100, { waitMs: 10_000 });
  const t0 = Date.now();
  await assert.rejects(b.acquire(101), exhausted(/101 bytes.*budget of 100 bytes.*--max-inflight-bytes/));
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(b.used, 0);
});

test('acquire waits for room, first come first served', async () => {
  const b = new ByteBudget(100, { waitMs: 5_000 });
  const r = b.tryAcquire(90)!;
  const order: string[] = [];
  const big = b.acquire(50).then((rel) => (order.push('big'), rel));
  const small = b.acquire(5).then((rel) => (order.push('small'), rel));
  // The small one fits but must not pass the big one waiting ahead of it.
  assert.equal(b.tryAcquire(5), undefined);
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(order, []);
  r();
  const [rb, rs] = await Promise.all([big, small]);
  assert.deepEqual(order, ['big', 'small']);
  assert.equal(b.used, 55);
  rb();
  rs();
  assert.equal(b.used, 0);
});

test('acquire gives up after the wait with RESOURCE_EXHAUSTED naming the sizes and the flag', async () => {
  const b = new ByteBudget(100, { waitMs: 50 });
  const r = b.tryAcquire(80)!;
  const t0 = Date.now();
  await assert.rejects(b.acquire(30), exhausted(/needs 30 bytes.*80 of the 100-byte.*--max-inflight-bytes/));
  assert.ok(Date.now() - t0 >= 45);
  r();
  assert.equal(b.used, 0);
  // A waiter that timed out no longer blocks the queue.
  assert.ok(b.tryAcquire(100));
});

test('an abort while waiting rejects with its reason and lets the next waiter in', async () => {
  const b = new ByteBudget(100, { waitMs: 5_000 });
  const r = b.tryAcquire(60)!;
  const ac = new AbortController();
  const first = b.acquire(50, ac.signal);
  const second = b.acquire(40);
  ac.abort(new Error('client went away'));
  await assert.rejects(first, /client went away/);
  const r2 = await second;
  assert.equal(b.used, 100);
  r();
  r2();
  assert.equal(b.used, 0);
  await assert.rejects(b.acquire(1, AbortSignal.abort(new Error('already'))), /already/);
  assert.equal(b.used, 0);
});

test('a lease grows synchronously while there is room, waits when not, and releases everything', async () => {
  const b = new ByteBudget(100, { waitMs: 5_000 });
  const lease = new BudgetLease(b);
  assert.ok(lease.tryGrow(30));
  assert.ok(lease.tryGrow(30));
  assert.equal(lease.held, 60);
  const other = b.tryAcquire(40)!;
  assert.equal(lease.tryGrow(10), false);
  const grown = lease.grow(10);
  other();
  await grown;
  assert.equal(lease.held, 70);
  lease.release();
  assert.equal(b.used, 0);
  // Growth after release takes nothing.
  await lease.grow(10);
  assert.equal(b.used, 0);
  lease.release();
  assert.equal(b.used, 0);
});

test('the default is a quarter of memory within 256 MiB..8 GiB', () => {
  const d = defaultInflightBytes();
  assert.ok(d >= 256 * 1024 * 1024 && d <= 8 * 1024 ** 3, String(d));
});
