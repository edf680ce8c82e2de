import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from '../core/errors.js';
import type { ExecuteBatchResult, ExecuteRequest, ModelInstance, StreamItem } from '../backends/backend.js';
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

/**
 * An instance run by hand: `finish()` ends the execution in progress and, as the worker does, first
 * claims the staged request unless it was taken back. `ran` lists the request ids that started.
 */
function handInstance() {
  const ran: string[] = [];
  let current: ((r: ExecuteBatchResult) => void) | undefined;
  let staged: { id: string; claimed: boolean; revoked: boolean; resolve: (r: ExecuteBatchResult) => void } | undefined;
  const start = (id: string, resolve: (r: ExecuteBatchResult) => void) => {
    ran.push(id);
    current = resolve;
  };
  const inst: ModelInstance = {
    name: 'hand',
    loadResult: {},
    execute: (requests) => new Promise((resolve) => start(requests[0].id!, resolve)),
    stage(request: ExecuteRequest) {
      const s = { id: request.id!, claimed: false, revoked: false, resolve: (_: ExecuteBatchResult) => {} };
      const result = new Promise<ExecuteBatchResult>((resolve) => (s.resolve = resolve));
      staged = s;
      return {
        started: () => s.claimed,
        revoke: () => {
          if (s.claimed) return false;
          s.revoked = true;
          return true;
        },
        result,
      };
    },
    stream: () => {
      throw new Error('not used');
    },
    close: async () => {},
  };
  /** The instance claims its staged request (if still there): what the worker does as its execution ends. */
  const claim = () => {
    const s = staged;
    staged = undefined;
    if (s && !s.revoked) {
      s.claimed = true;
      return () => start(s.id, s.resolve);
    }
    return undefined;
  };
  const finish = async (opts: { claim?: boolean } = {}) => {
    const done = current!;
    current = undefined;
    const next = opts.claim === false ? undefined : claim();
    next?.();
    done({ results: [[]] });
    await new Promise((r) => setImmediate(r));
  };
  return { inst, ran, finish, claim };
}

const req = (id: string): ExecuteRequest => ({ id, inputs: [], parameters: {} });
const tick = () => new Promise((r) => setImmediate(r));

test('a staged request cancelled before its instance starts it fails CANCELLED and never runs', async () => {
  const h = handInstance();
  const s = new Scheduler("model 'm' version 1", [h.inst]);
  const a = s.submit(req('a'));
  const ac = new AbortController();
  const b = s.submit(req('b'), { signal: ac.signal });
  const c = s.submit(req('c'));
  await tick();
  ac.abort();
  assert.equal((await failure(b)).code, 'CANCELLED');
  await h.finish();
  await a;
  await h.finish();
  await c;
  assert.deepEqual(h.ran, ['a', 'c']);
  assert.equal(s.pending, 0);
});

test('a staged request its instance has started runs to the end, as any running request', async () => {
  const h = handInstance();
  const s = new Scheduler("model 'm' version 1", [h.inst]);
  const a = s.submit(req('a'));
  const ac = new AbortController();
  const b = s.submit(req('b'), { signal: ac.signal });
  await tick();
  // The instance ends a and takes b; the main thread has not heard of it when b's client goes away.
  const ended = h.finish();
  ac.abort();
  await ended;
  await a;
  await h.finish();
  assert.deepEqual(await b, []);
  assert.deepEqual(h.ran, ['a', 'b']);
});

test('a staged request the instance has not taken when it frees up goes back to the queue and runs next', async () => {
  const h = handInstance();
  const s = new Scheduler("model 'm' version 1", [h.inst]);
  const a = s.submit(req('a'));
  const b = s.submit(req('b'));
  await tick();
  await h.finish({ claim: false });
  await a;
  assert.deepEqual(h.ran, ['a', 'b']);
  await h.finish();
  await b;
  assert.equal(s.pending, 0);
});

test('a staged request still counts against max_queue_size and its queue timeout', async () => {
  const h = handInstance();
  const policy = { maxQueueSize: 1, defaultTimeoutUs: 50_000, allowTimeoutOverride: true, timeoutAction: 'REJECT' as const };
  const s = new Scheduler("model 'm' version 1", [h.inst], { policy });
  const a = s.submit(req('a'));
  const b = s.submit(req('b'));
  const full = await failure(s.submit(req('c')));
  assert.equal(full.code, 'UNAVAILABLE');
  assert.match(full.message, /queue is full/);
  assert.equal((await failure(b)).code, 'DEADLINE_EXCEEDED');
  await h.finish();
  await a;
  assert.deepEqual(h.ran, ['a']);
});

test('a higher-priority request goes before the one already staged', async () => {
  const h = handInstance();
  const s = new Scheduler("model 'm' version 1", [h.inst], { priorityLevels: 2 });
  const a = s.submit(req('a'), { priority: 2 });
  const low = s.submit(req('low'), { priority: 2 });
  const high = s.submit(req('high'), { priority: 1 });
  await tick();
  await h.finish();
  await a;
  await h.finish();
  await high;
  await h.finish();
  await low;
  assert.deepEqual(h.ran, ['a', 'high', 'low']);
});

/** An instance that records each execute() call's request ids; `done(k)` settles the k-th call. */
function batchInstance(pipelined: boolean) {
  const calls: string[][] = [];
  const settle: ((r: ExecuteBatchResult) => void)[] = [];
  const inst: ModelInstance = {
    name: 'batches',
    loadResult: {},
    pipelined,
    execute: (requests) => new Promise((resolve) => {
      calls.push(requests.map((r) => r.id!));
      settle.push(resolve);
    }),
    stream: () => {
      throw new Error('not used');
    },
    close: async () => {},
  };
  const done = async (k: number) => {
    settle[k]({ results: calls[k].map(() => []) });
    await tick();
  };
  return { inst, calls, done };
}

/** A scheduler batching up to two rows, over the given instances. */
const batching2 = (...insts: ModelInstance[]) => new Scheduler("model 'm' version 1", insts, { batching: { maxBatchSize: 2, preferred: [], maxDelayMs: 0 } });

const row = (id: string): ExecuteRequest => ({ id, inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 2], data: new Uint8Array(8) }], parameters: {} });

test('a pipelined instance takes every full batch queued while it was busy at once; a partial one waits its turn', async () => {
  const b = batchInstance(true);
  const s = batching2(b.inst);
  const all = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => s.submit(row(id)));
  await tick();
  assert.deepEqual(b.calls, [['a']]);
  await b.done(0);
  // b..e fill two batches, which go together; f would be a partial batch: it stays queued.
  assert.deepEqual(b.calls, [['a'], ['b', 'c'], ['d', 'e']]);
  assert.equal(s.pending, 5);
  await b.done(1);
  assert.equal(b.calls.length, 3, 'the instance is still busy with d, e');
  await b.done(2);
  assert.deepEqual(b.calls[3], ['f']);
  await b.done(3);
  await Promise.all(all);
  assert.equal(s.pending, 0);
});

/** a runs alone; b..e queue behind it as two full batches, which must go one at a time. */
async function oneBatchAtATime(b: ReturnType<typeof batchInstance>, all: Promise<unknown>[]) {
  await tick();
  await b.done(0);
  assert.deepEqual(b.calls, [['a'], ['b', 'c']]);
  await b.done(1);
  assert.deepEqual(b.calls[2], ['d', 'e']);
  await b.done(2);
  await Promise.all(all);
}

test('without dynamic batching, a pipelined instance still runs one request at a time', async () => {
  const b = batchInstance(true);
  const s = new Scheduler("model 'm' version 1", [b.inst]);
  const all = ['a', 'b', 'c'].map((id) => s.submit(row(id)));
  await tick();
  assert.deepEqual(b.calls, [['a']]);
  await b.done(0);
  assert.deepEqual(b.calls, [['a'], ['b']]);
  await b.done(1);
  await b.done(2);
  assert.deepEqual(b.calls, [['a'], ['b'], ['c']]);
  await Promise.all(all);
});

test('an instance that is not pipelined gets one batch at a time', async () => {
  const b = batchInstance(false);
  const s = batching2(b.inst);
  await oneBatchAtATime(b, ['a', 'b', 'c', 'd', 'e'].map((id) => s.submit(row(id))));
});

test('with several instances, queued batches wait for whichever frees up first (no pipelining)', async () => {
  const x = batchInstance(true);
  const y = batchInstance(true);
  const s = batching2(x.inst, y.inst);
  const all = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => s.submit(row(id)));
  await tick();
  // a and b went one each to the free instances, as they came; the rest queue behind.
  assert.equal(x.calls.length + y.calls.length, 2);
  const [first, other] = x.calls[0][0] === 'a' ? [x, y] : [y, x];
  await first.done(0);
  assert.deepEqual(first.calls.slice(1), [['c', 'd']]);
  await other.done(0);
  assert.deepEqual(other.calls.slice(1), [['e', 'f']]);
  await first.done(1);
  await other.done(1);
  await Promise.all(all);
  assert.equal(s.pending, 0);
});

test('a batch holding a request with a queue timeout or deadline is not taken ahead of its turn', async () => {
  const b = batchInstance(true);
  const s = batching2(b.inst);
  // d can still time out in the queue: its batch waits until the instance is free.
  await oneBatchAtATime(b, [s.submit(row('a')), s.submit(row('b')), s.submit(row('c')), s.submit(row('d'), { timeoutUs: 60_000_000 }), s.submit(row('e'))]);
});
