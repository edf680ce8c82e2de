// The bench's echo floors: a busy floor's think time is refused, with what was wrong, unless it is a
// number of microseconds from 0 to 10 s; an accepted one still answers on both hop floors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BareSseClient, BareStreamClient } from '../src/bench/stream-client.js';
import { startEcho } from '../src/bench/target.js';
import { inference } from '../src/generated/proto.js';

test('echo floors: thinkUs out of range or not a number is refused; 2 ms is taken and both hop floors still answer', async () => {
  const echo = await startEcho();
  try {
    for (const bad of [-1, 10_000_001, 'x', null]) {
      await assert.rejects(echo.setCanned({ thinkUs: bad as number }), /refused \(400\): thinkUs must be a number of µs from 0 to 10000000, got /);
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
