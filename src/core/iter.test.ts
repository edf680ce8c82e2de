import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapStream, type EndHow } from './iter.js';

async function* source(n: number, fail?: Error, log?: string[]) {
  try {
    for (let i = 0; i < n; i++) yield i;
    if (fail) throw fail;
  } finally {
    log?.push('source closed');
  }
}

test('items are mapped in order, opened at the first read, and end once with done', async () => {
  const ends: EndHow[] = [];
  let opened = 0;
  const it = mapStream(() => {
    opened++;
    return source(3);
  }, (x) => x * 10, (how) => void ends.push(how));
  assert.equal(opened, 0);
  const got: number[] = [];
  for await (const v of it) got.push(v);
  assert.deepEqual(got, [0, 10, 20]);
  assert.equal(opened, 1);
  assert.deepEqual(ends, ['done']);
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

test('an error from the source, the opener (sync or async) or map goes through end, which may translate it', async () => {
  const translate = (how: EndHow, err?: unknown) => new Error(`${how}: ${(err as Error).message}`);
  const cases: [string, () => AsyncIterableIterator<number>][] = [
    ['source', () => mapStream(() => source(1, new Error('boom')), (x) => x, translate)],
    ['open', () => mapStream<number, number>(() => { throw new Error('boom'); }, (x) => x, translate)],
    ['async open', () => mapStream<number, number>(() => Promise.reject(new Error('boom')), (x) => x, translate)],
    ['map', () => mapStream(() => source(2), (x) => { if (x === 1) throw new Error('boom'); return x; }, translate)],
  ];
  for (const [what, make] of cases) {
    await assert.rejects(async () => {
      for await (const _ of make());
    }, /^Error: error: boom$/, what);
  }
});

test('a consumer that stops reading ends it with return and closes the source', async () => {
  const ends: EndHow[] = [];
  const log: string[] = [];
  const it = mapStream(() => Promise.resolve(source(5, undefined, log)), (x) => x, (how) => void ends.push(how));
  for await (const v of it) if (v === 1) break;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(ends, ['return']);
  assert.deepEqual(log, ['source closed']);
});

test('a consumer that stops while the source is still being opened gets it closed unread', async () => {
  const ends: EndHow[] = [];
  const log: string[] = [];
  let read = 0;
  let opened!: (v: AsyncIterable<number>) => void;
  const src: AsyncIterableIterator<number> = {
    next: () => {
      read++;
      return Promise.resolve({ done: false, value: 1 });
    },
    return: () => {
      log.push('source closed');
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]: () => src,
  };
  const it = mapStream(() => new Promise<AsyncIterable<number>>((r) => (opened = r)), (x) => x, (how) => void ends.push(how));
  const first = it.next();
  await it.return!();
  opened(src);
  assert.deepEqual(await first, { done: true, value: undefined });
  assert.equal(read, 0);
  assert.deepEqual(log, ['source closed']);
  assert.deepEqual(ends, ['return']);
});
