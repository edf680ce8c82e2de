import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from '../core/errors.js';
import type { ModelInstance, StreamItem } from '../backends/backend.js';
import { Scheduler } from './scheduler.js';

/** An instance whose streams yield a response every `everyMs` until aborted; `deaf` ones never notice the abort. */
function fakeInstance(opts: { everyMs?: number; deaf?: boolean } = {}) {
  const state = { closed: false, streamsEnded: 0 };
  const inst: ModelInstance = {
    name: 'fake',
    loadResult: {},
    execute: () => Promise.reject(new Error('not used')),
    async *stream(_req, signal): AsyncIterable<StreamItem> {
      try {
        for (;;) {
          await new Promise((r) => setTimeout(r, opts.everyMs ?? 5));
          if (signal.aborted && !opts.deaf) return;
          yield { outputs: [] };
        }
      } finally {
        state.streamsEnded++;
      }
    },
    close: async () => {
      state.closed = true;
    },
  };
  return { inst, state };
}

const request = { inputs: [], parameters: {} };

async function failure(p: Promise<unknown>): Promise<InferenceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof InferenceError, String(e));
    return e;
  }
  assert.fail('expected a failure');
}

test('an aborted stream leaves the scheduler at once, even while its consumer is not reading', async () => {
  const { inst } = fakeInstance();
  const s = new Scheduler("model 'm' version 1", [inst]);
  const ac = new AbortController();
  const it = s.stream(request, ac.signal)[Symbol.asyncIterator]();
  await it.next();
  assert.equal(s.pending, 1);
  ac.abort(); // the consumer is not in a read now
  assert.equal(s.pending, 0);
  const e = await failure(it.next());
  assert.equal(e.code, 'CANCELLED');
});

test('an abort with an InferenceError reason fails the pending read with that error, even when the model never notices', async () => {
  const { inst } = fakeInstance({ everyMs: 60_000, deaf: true });
  const s = new Scheduler("model 'm' version 1", [inst]);
  const ac = new AbortController();
  const it = s.stream(request, ac.signal)[Symbol.asyncIterator]();
  const read = it.next();
  setTimeout(() => ac.abort(new InferenceError('UNAVAILABLE', 'the server is shutting down')), 10);
  const e = await failure(read);
  assert.equal(e.code, 'UNAVAILABLE');
  assert.equal(e.message, 'the server is shutting down');
  assert.equal(s.pending, 0);
});

test('close(grace) ends the streams still open after the grace period with UNAVAILABLE, then closes the instances', async () => {
  const { inst, state } = fakeInstance();
  const s = new Scheduler("model 'm' version 1", [inst]);
  const it = s.stream(request, new AbortController().signal)[Symbol.asyncIterator]();
  await it.next(); // then the consumer stops reading
  const t0 = Date.now();
  const ended = await s.close(100);
  const took = Date.now() - t0;
  assert.equal(ended, 1);
  assert.ok(took >= 90 && took < 2000, `close took ${took} ms`);
  assert.equal(state.closed, true);
  const e = await failure(it.next());
  assert.equal(e.code, 'UNAVAILABLE');
  assert.match(e.message, /model 'm' version 1 is unloading: the stream was ended after the 0\.1 s grace period/);
});

test('close(grace) returns as soon as the streams finish on their own', async () => {
  const { inst } = fakeInstance();
  const s = new Scheduler("model 'm' version 1", [inst]);
  const ac = new AbortController();
  const it = s.stream(request, ac.signal)[Symbol.asyncIterator]();
  await it.next();
  setTimeout(() => void it.return?.(), 20);
  const t0 = Date.now();
  assert.equal(await s.close(10_000), 0);
  assert.ok(Date.now() - t0 < 2000);
  const e = await failure(s.stream(request, ac.signal)[Symbol.asyncIterator]().next());
  assert.equal(e.code, 'UNAVAILABLE');
});
