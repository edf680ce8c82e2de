import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from '../core/errors.js';
import { AccessControl } from '../security/auth.js';
import type { CallContext } from './context.js';
import { CallWrapper } from './wrapper.js';

const ctx = (headers: Record<string, string> = {}): CallContext => ({
  protocol: 'grpc', method: '/inference.GRPCInferenceService/ModelInfer', label: 'ModelInfer',
  signal: new AbortController().signal, header: (n) => headers[n], start: performance.now(),
});

async function rejection(p: Promise<unknown>): Promise<InferenceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof InferenceError);
    return e;
  }
  assert.fail('expected a rejection');
}

test('a request that fails to decode is INVALID_ARGUMENT; a decode error with a code keeps it', async () => {
  const w = new CallWrapper();
  const e = await rejection(w.unary(ctx(), () => JSON.parse('{'), () => 1, (x) => x));
  assert.equal(e.code, 'INVALID_ARGUMENT');
  assert.match(e.message, /^malformed request: /);
  const nf = await rejection(w.unary(ctx(), () => { throw new InferenceError('NOT_FOUND', 'no model x'); }, () => 1, (x) => x));
  assert.equal(nf.code, 'NOT_FOUND');
});

test('errors from the method go through the one table: unknown ones are INTERNAL, coded ones keep their code', async () => {
  const w = new CallWrapper();
  assert.equal((await rejection(w.unary(ctx(), () => ({}), () => { throw new Error('boom'); }, (x) => x))).code, 'INTERNAL');
  const coded = Object.assign(new Error('busy'), { code: 'UNAVAILABLE' });
  assert.equal((await rejection(w.unary(ctx(), () => ({}), () => { throw coded; }, (x) => x))).code, 'UNAVAILABLE');
  assert.equal(await w.unary(ctx(), () => 2, (_c, q: number) => q * 3, (r) => `=${r}`), '=6');
});

test('a stream maps a failure after its first answer the same way', async () => {
  const w = new CallWrapper();
  const got: number[] = [];
  const it = w.stream(ctx(), () => ({}), async function* () {
    yield 1;
    throw new Error('model died');
  }, (x: number) => x);
  const e = await rejection((async () => { for await (const x of it) got.push(x); })());
  assert.deepEqual(got, [1]);
  assert.equal(e.code, 'INTERNAL');
  assert.equal(e.message, 'model died');
});

test('admit: the access decision, and the identity it admitted the call as', () => {
  const w = new CallWrapper({ access: { grpc: new AccessControl({ apiKey: 'k' }) } });
  assert.equal(w.checksAccess('grpc'), true);
  assert.equal(w.checksAccess('http'), false);
  assert.equal(w.admit(ctx())?.code, 'UNAUTHENTICATED');
  const ok = ctx({ authorization: 'Bearer k' });
  assert.equal(w.admit(ok), undefined);
  assert.deepEqual(ok.identity, { scheme: 'api-key' });
});

test('finished: one observation with the protocol, the label, the code and the seconds', () => {
  const seen: unknown[][] = [];
  const w = new CallWrapper({ observe: (...a) => seen.push(a) });
  w.finished(ctx(), 'OK');
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].slice(0, 3), ['grpc', 'ModelInfer', 'OK']);
  assert.ok(typeof seen[0][3] === 'number' && seen[0][3] >= 0);
});
