// The bench's echo floors: a busy floor's think and per-token times are refused, with what was wrong,
// unless each is a whole number of microseconds from 0 to 10 s, and its token count unless 1 to 100,000;
// accepted ones still answer on both hop floors, as a stream of that many messages.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BareSseClient, BareStreamClient } from '../src/bench/stream-client.js';
import { startEcho } from '../src/bench/target.js';
import { inference } from '../src/generated/proto.js';

test('echo floors: thinkUs out of range or not a number is refused; 2 ms is taken and both hop floors still answer', async () => {
  const echo = await startEcho();
  try {
    for (const bad of [-1, 10_000_001, 1.5, 'x', null]) {
      await assert.rejects(echo.setCanned({ thinkUs: bad as number }), /refused \(400\): thinkUs must be a whole number from 0 to 10000000 \(µs\), got /);
      await assert.rejects(echo.setCanned({ tokenUs: bad as number }), /refused \(400\): tokenUs must be a whole number from 0 to 10000000 \(µs\), got /);
    }
    for (const bad of [0, 100_001, 2.5, '3']) {
      await assert.rejects(echo.setCanned({ tokens: bad as number }), /refused \(400\): tokens must be a whole number from 1 to 100000, got /);
    }
    const msg = inference.ModelStreamInferResponse.encode({ infer_response: { model_name: 'm', id: 'a' } }).finish();
    await echo.setCanned({
      thinkUs: 2000,
      grpc: Buffer.from(msg).toString('base64'),
      http: { status: 200, headers: { 'content-type': 'text/event-stream' }, body: Buffer.from('data: {"text_output":"a"}\n\n').toString('base64') },
    });
    const grpc = new BareStreamClient(echo.h2HopUrl);
    const sse = new BareSseClient(echo.httpHopUrl);
    try {
      const got: unknown[] = [];
      for await (const m of grpc.generate('m', 'p', {})) got.push(m);
      assert.equal((got[0] as inference.ModelInferResponse).id, 'a');
      const events: unknown[] = [];
      for await (const e of sse.generate('m', { text_input: 'p' })) events.push(e);
      assert.deepEqual(events, [{ text_output: 'a' }]);
    } finally {
      await Promise.all([grpc.close(), sse.close()]);
    }
  } finally {
    await echo.stop();
  }
});

test('echo floors: with tokens 5 both hop floors stream five messages, each after the worker spun tokenUs; tokens 1 answers once again', async () => {
  const echo = await startEcho();
  const grpc = new BareStreamClient(echo.h2HopUrl);
  const sse = new BareSseClient(echo.httpHopUrl);
  try {
    const msg = inference.ModelStreamInferResponse.encode({ infer_response: { model_name: 'm', id: 'b' } }).finish();
    await echo.setCanned({
      thinkUs: 1000, tokens: 5, tokenUs: 3000,
      grpc: Buffer.from(msg).toString('base64'),
      http: { status: 200, headers: { 'content-type': 'text/event-stream' }, body: Buffer.from('data: {"text_output":"b"}\n\n').toString('base64') },
    });
    const read = async (it: AsyncIterable<unknown>) => {
      const t0 = performance.now();
      const at: number[] = [];
      for await (const _ of it) at.push(performance.now() - t0);
      return at;
    };
    for (const at of [await read(grpc.generate('m', 'p', {})), await read(sse.generate('m', { text_input: 'p' }))]) {
      assert.equal(at.length, 5);
      // The worker spins before each message, so none can come sooner (a floor, not a timing).
      assert.ok(at[4] >= 1 + 4 * 3, `five messages in ${at[4]} ms`);
    }
    await echo.setCanned({ tokens: 1, tokenUs: 0, thinkUs: 0 });
    assert.equal((await read(grpc.generate('m', 'p', {}))).length, 1);
    assert.equal((await read(sse.generate('m', { text_input: 'p' }))).length, 1);
  } finally {
    await Promise.all([grpc.close(), sse.close()]);
    await echo.stop();
  }
});
