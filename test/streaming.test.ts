// Streaming behaviour: the generate extension (generate / generate_stream over REST, ModelStreamInfer
// over gRPC) on decoupled models, written once over both protocols through the SDK; then what only one
// protocol can show: many requests interleaved on one ModelStreamInfer stream, the final-response flag,
// duet.Generator, and the raw SSE wire (frames, JSON errors before streaming, `event: error` after).
//
// Test-only models (test/fixtures/streaming-models.ts) are written into a scratch repository next to
// copies of the example models.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { GrpcClient, type StreamResult } from '../packages/client/src/grpc.js';
import type { InferenceClient, InferInput } from '../packages/client/src/types.js';
import { InferenceError } from '../src/core/errors.js';
import { duet, inference } from '../src/generated/proto.js';
import { paramsFromProto, paramsToProto } from '../src/protocols/grpc/codec.js';
import { GENERATOR_SERVICE, INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import type { RunningServer } from '../src/server.js';
import { baseUrl, PROTOCOLS, scratchRepo, startTestServer } from './harness.js';
import { writeTestModels } from './fixtures/streaming-models.js';

// ------------------------------------------------------------------------------------------- fixture

let server: RunningServer;
let repo: { dir: string; cleanup: () => Promise<void> };
let grpcAddr: string;
let fileSeq = 0;

before(async () => {
  repo = await scratchRepo(['text_echo', 'text_repeat', 'repeat_int32', 'my_model']);
  await writeTestModels(repo.dir);
  server = await startTestServer(repo.dir);
  grpcAddr = `127.0.0.1:${server.grpc!.port}`;
});
after(async () => {
  await server?.stop();
  await repo?.cleanup();
});

// ------------------------------------------------------------------------------------------- helpers

/** A fresh file path in the scratch repository for a model to write its progress into. */
const progressFile = (tag: string) => join(repo.dir, `progress-${tag}-${++fileSeq}.txt`);
const fileSize = (f: string) => (existsSync(f) ? statSync(f).size : 0);
const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Resolves with the error `fn` rejects with; fails the test if it resolves. */
async function failure(fn: () => Promise<unknown>): Promise<InferenceError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof InferenceError, `expected an InferenceError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

/**
 * The ticker's file must stop growing (read twice `quietMs` apart after a short settle), and the model
 * must have seen its abort signal fire and its stream end: the cancellation reached it. Returns the
 * number of steps it made.
 */
async function assertStopped(file: string, quietMs = 300): Promise<number> {
  await sleep(150);
  const a = fileSize(file);
  await sleep(quietMs);
  const b = fileSize(file);
  assert.equal(b, a, `the model kept working after the client went away (${file} grew from ${a} to ${b} bytes)`);
  const all = lines(file);
  assert.ok(all.includes('aborted'), `the model's abort signal did not fire: ${all.join(' ')}`);
  assert.ok(all.includes('closed'), `the model's stream was not ended: ${all.join(' ')}`);
  return all.filter((l) => /^\d+$/.test(l)).length;
}

const i32 = (name: string, v: number[]): InferInput => ({ name, datatype: 'INT32', shape: [v.length], data: Int32Array.from(v) });
const u32 = (name: string, v: number[]): InferInput => ({ name, datatype: 'UINT32', shape: [v.length], data: Uint32Array.from(v) });
const repeatInputs = (values: number[], delays: number[], wait = 0) => [i32('IN', values), u32('DELAY', delays), u32('WAIT', [wait])];
const MY_MODEL_INPUT: InferInput = { name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Float32Array(128).fill(0.5) };

// ---------------------------------------------------------------------- both protocols, through the SDK

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    before(() => {
      c = proto.client(server);
    });
    after(() => c.close());

    test('generate on a one-response model returns the flat JSON response', { timeout: 10_000 }, async () => {
      const r = await c.generate('text_echo', { text_input: 'hello, world' });
      assert.deepEqual(r, { model_name: 'text_echo', model_version: '1', text_output: 'hello, world' });
    });

    test('generate on a model that streams several responses fails INVALID_ARGUMENT', { timeout: 10_000 }, async () => {
      const e = await failure(() => c.generate('text_repeat', { text_input: 'x', count: 3 }));
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /exactly one/);
      assert.match(e.message, /3 responses/);
    });

    test('generateStream yields every response in order', { timeout: 10_000 }, async () => {
      const all = await collect(c.generateStream('text_repeat', { text_input: 'la', count: 5 }));
      assert.equal(all.length, 5);
      assert.deepEqual(all.map((r) => r.index), [0, 1, 2, 3, 4]);
      for (const r of all) {
        assert.equal(r.model_name, 'text_repeat');
        assert.equal(r.model_version, '1');
        assert.equal(r.text_output, 'la');
      }
    });

    // Cancelling each finished stream would read as a rapid-reset flood: nghttp2 answers the ~1000th reset
    // on a connection with GOAWAY INTERNAL_ERROR (a limit Node 20 cannot raise), failing the calls in flight.
    test('1,200 generations in a row from one client all succeed (no stream reset per finished generation)', { timeout: 60_000 }, async () => {
      let n = 0;
      for (let i = 0; i < 1200; i++) {
        for await (const r of c.generateStream('text_repeat', { text_input: 'a', count: 1 })) {
          assert.equal(r.text_output, 'a');
          n++;
        }
      }
      assert.equal(n, 1200);
    });

    test('generateStream of a request with no responses yields none', { timeout: 10_000 }, async () => {
      assert.deepEqual(await collect(c.generateStream('text_repeat', { text_input: 'la', count: 0 })), []);
    });

    test('an unknown model is NOT_FOUND', { timeout: 10_000 }, async () => {
      const s = await failure(() => collect(c.generateStream('no_such_model', { text_input: 'x' })));
      assert.equal(s.code, 'NOT_FOUND');
      assert.match(s.message, /no_such_model/);
      const g = await failure(() => c.generate('no_such_model', { text_input: 'x' }));
      assert.equal(g.code, 'NOT_FOUND');
    });

    test('a bad input value is INVALID_ARGUMENT', { timeout: 10_000 }, async () => {
      const e = await failure(() => collect(c.generateStream('text_repeat', { text_input: 'x', count: 'x' })));
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /count/);
    });

    test('a model that rejects its request before responding: INVALID_ARGUMENT naming both shapes', { timeout: 10_000 }, async () => {
      const e = await failure(() => collect(c.generateStream('repeat_int32', { IN: [1, 2, 3], DELAY: [0, 0], WAIT: [0] })));
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /IN is \[3\]/);
      assert.match(e.message, /DELAY is \[2\]/);
    });

    test('top-level keys and a parameters object reach the model as request parameters', { timeout: 10_000 }, async () => {
      const body = {
        text_input: 'p',
        max_tokens: 7,
        temperature: 0.25,
        greedy: true,
        stop: ['a', 'b'],
        parameters: { seed: 42, note: 'hi', nested: { k: 1 } },
      };
      for (const r of [await c.generate('param_echo', body), ...(await collect(c.generateStream('param_echo', body)))]) {
        const p = JSON.parse(String(r.params)) as Record<string, unknown>;
        assert.equal(Number(p.max_tokens), 7);
        assert.equal(p.temperature, 0.25);
        assert.equal(p.greedy, true);
        assert.equal(p.stop, '["a","b"]');
        assert.equal(Number(p.seed), 42);
        assert.equal(p.note, 'hi');
        assert.equal(p.nested, '{"k":1}');
        assert.equal('text_input' in p, false, 'an input is not also a parameter');
        assert.equal('parameters' in p, false);
      }
    });

    test('responses are sent as they are produced, not collected', { timeout: 10_000 }, async () => {
      const t0 = performance.now();
      const arrivals: number[] = [];
      const outs: unknown[] = [];
      for await (const r of c.generateStream('repeat_int32', { IN: [1, 2, 3], DELAY: [0, 300, 300], WAIT: [0] })) {
        arrivals.push(performance.now() - t0);
        outs.push(r.OUT);
      }
      const total = performance.now() - t0;
      assert.deepEqual(outs, [1, 2, 3]);
      assert.ok(total >= 550, `the stream took ${total.toFixed(0)} ms; the model sleeps 600 ms`);
      assert.ok(arrivals[0] < total / 2, `first response at ${arrivals[0].toFixed(0)} ms of ${total.toFixed(0)} ms`);
      assert.ok(arrivals[1] - arrivals[0] >= 200, `second response ${(arrivals[1] - arrivals[0]).toFixed(0)} ms after the first`);
    });

    test('unary infer on a decoupled model is UNIMPLEMENTED and names the streaming calls', { timeout: 10_000 }, async () => {
      const e = await failure(() => c.infer('text_repeat', [
        { name: 'text_input', datatype: 'BYTES', shape: [1], data: ['x'] },
        { name: 'count', datatype: 'INT32', shape: [1], data: Int32Array.of(2) },
      ]));
      assert.equal(e.code, 'UNIMPLEMENTED');
      assert.match(e.message, /text_repeat/);
      assert.match(e.message, /ModelStreamInfer/);
      assert.match(e.message, /generate_stream/);
    });

    test('aborting the signal stops the model', { timeout: 15_000 }, async () => {
      const file = progressFile(`abort-${proto.name}`);
      const ac = new AbortController();
      const seen: unknown[] = [];
      await assert.rejects(async () => {
        for await (const r of c.generateStream('ticker', { text_input: 'go', file }, { signal: ac.signal })) {
          seen.push(r.index);
          if (seen.length === 3) ac.abort();
        }
      }, 'an aborted stream ends with an error');
      assert.deepEqual(seen, [0, 1, 2]);
      const steps = await assertStopped(file);
      assert.ok(steps >= 3 && steps < 40, `the model made ${steps} steps`);
    });

    test('a reader that stops reading (break) stops the model', { timeout: 15_000 }, async () => {
      const file = progressFile(`break-${proto.name}`);
      const seen: unknown[] = [];
      for await (const r of c.generateStream('ticker', { text_input: 'go', file })) {
        seen.push(r.index);
        if (seen.length === 3) break;
      }
      assert.deepEqual(seen, [0, 1, 2]);
      const steps = await assertStopped(file);
      assert.ok(steps >= 3 && steps < 40, `the model made ${steps} steps`);
    });

    test('a slow reader holds the model back instead of growing buffers', { timeout: 60_000 }, async (t) => {
      const file = progressFile(`flood-${proto.name}`);
      const it = c.generateStream('flood', { text_input: 'go', file })[Symbol.asyncIterator]();
      let next = 0;
      const take = async () => {
        const n = await it.next();
        assert.equal(n.done, false);
        assert.equal(n.value.index, next++);
        assert.equal((n.value.text_output as string).length, 65536);
      };
      try {
        for (let i = 0; i < 5; i++) await take();
        await sleep(500);
        // On a busy machine the pipeline may still be filling: wait (bounded) until the count holds still.
        let produced = fileSize(file);
        let held = false;
        for (const until = Date.now() + 5000; !held && Date.now() < until;) {
          await sleep(250);
          const now = fileSize(file);
          held = now === produced;
          produced = now;
        }
        t.diagnostic(`the model made ${produced} of 2000 responses while the reader paused after 5`);
        assert.ok(produced < 200, `while the reader paused after 5 responses the model made ${produced} of 2000`);
        assert.ok(held, 'the model is held, not merely slow');
        for (;;) {
          const n = await it.next();
          if (n.done) break;
          assert.equal(n.value.index, next++);
          assert.equal((n.value.text_output as string).length, 65536);
        }
      } finally {
        await it.return?.(); // a failed test must not leave a held stream behind to delay shutdown
      }
      assert.equal(next, 2000);
      assert.equal(fileSize(file), 2000);
    });
  });
}

// ---------------------------------------------------------------------------------- gRPC streaming only

describe('grpc streaming', () => {
  let sdk: GrpcClient;
  let raw: grpc.Client;
  before(() => {
    sdk = new GrpcClient(grpcAddr);
    raw = new grpc.Client(grpcAddr, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
  });
  after(async () => {
    raw.close();
    await sdk.close();
  });

  /** Every result on an SDK stream until the server ends it, bounded in time. */
  async function drain(responses: AsyncIterable<StreamResult>, ms = 10_000): Promise<StreamResult[]> {
    const out: StreamResult[] = [];
    const timer = setTimeout(() => assert.fail(`stream did not end within ${ms} ms`), ms);
    try {
      for await (const r of responses) out.push(r);
    } finally {
      clearTimeout(timer);
    }
    return out;
  }

  /** Raw ModelStreamInfer: write the requests, half-close, gather every message until the server ends. */
  function rawStreamInfer(requests: inference.IModelInferRequest[]): Promise<inference.ModelStreamInferResponse[]> {
    const def = INFERENCE_SERVICE.ModelStreamInfer;
    const call = raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    const out: inference.ModelStreamInferResponse[] = [];
    return new Promise((resolve, reject) => {
      call.on('data', (m: inference.ModelStreamInferResponse) => out.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(out));
      for (const r of requests) call.write(r);
      call.end();
    });
  }

  const rawRepeat = (id: string, values: number[], delays: number[], params: Record<string, boolean> = {}): inference.IModelInferRequest => ({
    model_name: 'repeat_int32', id, parameters: paramsToProto(params),
    inputs: [
      { name: 'IN', datatype: 'INT32', shape: [values.length] },
      { name: 'DELAY', datatype: 'UINT32', shape: [delays.length] },
      { name: 'WAIT', datatype: 'UINT32', shape: [1] },
    ],
    raw_input_contents: [
      Buffer.from(Int32Array.from(values).buffer), Buffer.from(Uint32Array.from(delays).buffer), Buffer.from(Uint32Array.of(0).buffer),
    ],
  });

  test('many requests interleaved on one stream: ids, order, completeness, one final marker each', { timeout: 15_000 }, async () => {
    const s = sdk.openStream();
    const plan: Record<string, { values: number[]; delays: number[] }> = {
      a: { values: [1, 2, 3], delays: [50, 50, 50] },
      b: { values: [10, 20], delays: [0, 120] },
      c: { values: [7, 8, 9, 10], delays: [30, 30, 30, 30] },
    };
    for (const [id, p] of Object.entries(plan)) s.send('repeat_int32', repeatInputs(p.values, p.delays), { id });
    s.send('my_model', [MY_MODEL_INPUT], { id: 'm' });
    s.end();
    const all = await drain(s.responses);

    for (const r of all) assert.ok(r.id && ['a', 'b', 'c', 'm'].includes(r.id), `response with id ${r.id}`);
    assert.ok(all.every((r) => !r.error), `unexpected error: ${all.find((r) => r.error)?.error?.message}`);
    for (const [id, p] of Object.entries(plan)) {
      const mine = all.filter((r) => r.id === id);
      const data = mine.filter((r) => r.result);
      assert.deepEqual(data.map((r) => r.result!.output('OUT').typed<Int32Array>()[0]), p.values, `request ${id}`);
      assert.deepEqual(data.map((r) => r.result!.output('IDX').typed<Uint32Array>()[0]), p.values.map((_, i) => i));
      for (const r of data) assert.equal(r.final, false);
      assert.equal(mine.filter((r) => r.final).length, 1, `request ${id} ends with exactly one final`);
      const last = mine[mine.length - 1];
      assert.equal(last.final, true);
      assert.equal(last.result, undefined, `request ${id}: the final of a decoupled model is an empty marker`);
    }
    const m = all.filter((r) => r.id === 'm');
    assert.equal(m.length, 1, 'an ordinary model sends one response, itself final');
    assert.equal(m[0].final, true);
    assert.equal(m[0].result!.output('OUTPUT0').typed<Float32Array>()[0], 64);
    // The requests ran side by side: their responses are interleaved, not one request after another.
    const ids = all.map((r) => r.id);
    const switches = ids.filter((id, i) => i > 0 && id !== ids[i - 1]).length;
    assert.ok(switches > 4, `responses came in blocks: ${ids.join(' ')}`);
  });

  test('an error for one request arrives as its error_message; the others complete', { timeout: 15_000 }, async () => {
    const s = sdk.openStream();
    s.send('repeat_int32', repeatInputs([1, 2, 3], [40, 40, 40]), { id: 'ok' });
    s.send('no_such_model', repeatInputs([1], [0]), { id: 'missing' });
    s.send('repeat_int32', [i32('IN', [1, 2, 3]), u32('DELAY', [0, 0]), u32('WAIT', [0])], { id: 'badshape' });
    s.send('repeat_int32', repeatInputs([4, 5], [60, 60]), { id: 'ok2' });
    s.end();
    const all = await drain(s.responses);

    const missing = all.filter((r) => r.id === 'missing');
    assert.equal(missing.length, 1);
    assert.equal(missing[0].error?.code, 'NOT_FOUND');
    assert.match(missing[0].error!.message, /no_such_model/);
    const bad = all.filter((r) => r.id === 'badshape');
    assert.equal(bad.length, 1);
    assert.equal(bad[0].error?.code, 'INVALID_ARGUMENT');
    assert.match(bad[0].error!.message, /IN is \[3\], DELAY is \[2\]/);
    for (const [id, values] of [['ok', [1, 2, 3]], ['ok2', [4, 5]]] as const) {
      const mine = all.filter((r) => r.id === id);
      assert.deepEqual(mine.filter((r) => r.result).map((r) => r.result!.output('OUT').typed<Int32Array>()[0]), values);
      assert.equal(mine.filter((r) => r.error).length, 0);
      assert.equal(mine[mine.length - 1].final, true);
    }
  });

  test('the wire: with triton_enable_empty_final_response every response carries triton_final_response', { timeout: 15_000 }, async () => {
    const msgs = await rawStreamInfer([
      rawRepeat('d', [5, 6], [0, 20], { triton_enable_empty_final_response: true }),
      {
        model_name: 'my_model', id: 'o', parameters: paramsToProto({ triton_enable_empty_final_response: true }),
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }],
        raw_input_contents: [Buffer.from(new Float32Array(128).fill(1).buffer)],
      },
    ]);
    for (const m of msgs) assert.equal(m.error_message ?? '', '');
    const d = msgs.filter((m) => m.infer_response?.id === 'd');
    assert.equal(d.length, 3, 'two responses and the empty final');
    assert.deepEqual(d.map((m) => paramsFromProto(m.infer_response!.parameters).triton_final_response), [false, false, true]);
    const marker = d[2].infer_response!;
    assert.equal(marker.outputs?.length ?? 0, 0);
    assert.equal(marker.raw_output_contents?.length ?? 0, 0);
    assert.equal(marker.model_name, 'repeat_int32');
    assert.equal(marker.model_version, '1');
    const o = msgs.filter((m) => m.infer_response?.id === 'o');
    assert.equal(o.length, 1);
    assert.equal(paramsFromProto(o[0].infer_response!.parameters).triton_final_response, true);
    assert.equal(o[0].infer_response!.outputs?.length, 1);
  });

  test('the wire: without the flag no response carries triton_final_response', { timeout: 15_000 }, async () => {
    const msgs = await rawStreamInfer([
      rawRepeat('d', [5, 6, 7], [0, 10, 10]),
      rawRepeat('z', [], []),
      {
        model_name: 'my_model', id: 'o',
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128] }],
        raw_input_contents: [Buffer.from(new Float32Array(128).fill(1).buffer)],
      },
    ]);
    assert.equal(msgs.filter((m) => m.infer_response?.id === 'd').length, 3, 'one message per response, no marker');
    assert.equal(msgs.filter((m) => m.infer_response?.id === 'z').length, 0, 'no responses, no messages');
    assert.equal(msgs.filter((m) => m.infer_response?.id === 'o').length, 1);
    for (const m of msgs) {
      assert.equal(m.error_message ?? '', '');
      assert.equal('triton_final_response' in (m.infer_response?.parameters ?? {}), false);
    }
  });

  test('streamInfer yields one request\'s responses and ends at its final', { timeout: 10_000 }, async () => {
    const all = await collect(sdk.streamInfer('repeat_int32', repeatInputs([3, 1, 4, 1, 5], [0, 0, 0, 0, 0]), { id: 'pi' }));
    assert.deepEqual(all.map((r) => r.output('OUT').typed<Int32Array>()[0]), [3, 1, 4, 1, 5]);
    for (const r of all) {
      assert.equal(r.id, 'pi');
      assert.equal(r.modelName, 'repeat_int32');
    }
    const e = await failure(() => collect(sdk.streamInfer('repeat_int32', [i32('IN', [1])])));
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.match(e.message, /missing 'DELAY', 'WAIT'/);
  });

  test('cancelling a raw ModelStreamInfer call stops the model', { timeout: 15_000 }, async () => {
    const file = progressFile('raw-cancel');
    const def = INFERENCE_SERVICE.ModelStreamInfer;
    const call = raw.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, new grpc.Metadata(), {});
    let n = 0;
    const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on('data', () => {
        if (++n === 3) call.cancel();
      });
      call.on('error', (e: grpc.ServiceError) => resolve(e));
      call.on('end', () => resolve(undefined));
    });
    call.write({
      model_name: 'ticker', id: 't', parameters: paramsToProto({ file }),
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
      raw_input_contents: [Buffer.from([2, 0, 0, 0, 0x67, 0x6f])],
    });
    const err = await ended;
    assert.equal(err?.code, grpc.status.CANCELLED);
    const steps = await assertStopped(file);
    assert.ok(steps >= 3 && steps < 40, `the model made ${steps} steps`);
  });

  /** duet.Generator/Generate, raw: every message, or the status it failed with. */
  function generate(request: duet.IGenerateRequest): Promise<{ msgs: duet.GenerateResponse[]; err?: grpc.ServiceError }> {
    const def = GENERATOR_SERVICE.Generate;
    const call = raw.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, duet.GenerateRequest.create(request), new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    const msgs: duet.GenerateResponse[] = [];
    return new Promise((resolve) => {
      call.on('data', (m: duet.GenerateResponse) => msgs.push(m));
      call.on('error', (err: grpc.ServiceError) => resolve({ msgs, err }));
      call.on('end', () => resolve({ msgs }));
    });
  }

  test('duet.Generator/Generate: one message per piece, index 0..n-1, the last final with its finish reason', { timeout: 10_000 }, async () => {
    const { msgs, err } = await generate({ model: 'words', prompt: 'the quick brown fox' });
    assert.equal(err, undefined, err?.details);
    assert.deepEqual(msgs.map((m) => m.index), [0, 1, 2, 3]);
    assert.equal(msgs.map((m) => m.text).join(''), 'the quick brown fox');
    assert.deepEqual(msgs.map((m) => m.final), [false, false, false, true]);
    assert.equal(msgs[3].finish_reason, 'stop');
    for (const m of msgs.slice(0, 3)) assert.equal(m.finish_reason, '');
  });

  test('duet.Generator/Generate reads the text tensors\' names from the model config (generate_text_input / generate_text_output)', { timeout: 10_000 }, async () => {
    const { msgs, err } = await generate({ model: 'renamed_words', prompt: 'over the lazy dog' });
    assert.equal(err, undefined, err?.details);
    assert.equal(msgs.map((m) => m.text).join(''), 'over the lazy dog');
    assert.equal(msgs.at(-1)?.finish_reason, 'length');
    // A model without the default text tensors names the config parameter to set.
    const bad = await generate({ model: 'repeat_int32', prompt: 'x' });
    assert.equal(bad.err?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(bad.err!.details, /no text input 'text_input'.*generate_text_input/);
  });

  test('duet.Generator/Generate on an unknown model is NOT_FOUND', { timeout: 10_000 }, async () => {
    const { msgs, err } = await generate({ model: 'no_such_model', prompt: 'x' });
    assert.equal(msgs.length, 0);
    assert.equal(err?.code, grpc.status.NOT_FOUND);
    assert.match(err!.details, /no_such_model/);
  });
});

// ------------------------------------------------------------------------------------ REST SSE only

describe('REST SSE', () => {
  interface RawReply { status: number; headers: http.IncomingHttpHeaders; body: string }

  function post(path: string, body: string): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${baseUrl(server)}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`POST ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The frames of an SSE body: each `field: value` line of each blank-line-separated block. */
  function frames(body: string): { event?: string; data: string }[] {
    assert.ok(body === '' || body.endsWith('\n\n'), 'the body ends with a complete frame');
    return body.split('\n\n').filter(Boolean).map((block) => {
      const lines = block.split('\n');
      for (const l of lines) assert.match(l, /^(event|data): /, `SSE line ${JSON.stringify(l)}`);
      return {
        event: lines.find((l) => l.startsWith('event: '))?.slice(7),
        data: lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'),
      };
    });
  }

  test('generate_stream is text/event-stream with one data frame per response', { timeout: 10_000 }, async () => {
    const r = await post('/v2/models/text_repeat/generate_stream', JSON.stringify({ text_input: 'hey', count: 3, id: 'q1' }));
    assert.equal(r.status, 200);
    // Triton's exact header, charset included.
    assert.equal(r.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.match(r.body, /^data: \{/);
    const f = frames(r.body);
    assert.equal(f.length, 3);
    f.forEach((x, i) => {
      assert.equal(x.event, undefined);
      assert.deepEqual(JSON.parse(x.data), { model_name: 'text_repeat', model_version: '1', id: 'q1', text_output: 'hey', index: i });
    });
  });

  test('generate_stream with no responses is an empty event stream', { timeout: 10_000 }, async () => {
    const r = await post('/v2/models/text_repeat/generate_stream', JSON.stringify({ text_input: 'hey', count: 0 }));
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    assert.equal(r.body, '');
  });

  test('errors before streaming starts are JSON errors with a 4xx status', { timeout: 10_000 }, async () => {
    const cases: [string, string, number, RegExp][] = [
      ['/v2/models/no_such_model/generate_stream', '{"text_input":"x"}', 404, /no_such_model/],
      ['/v2/models/text_repeat/generate_stream', '{"text_input": "x", "count": ', 400, /JSON|json/],
      ['/v2/models/text_repeat/generate_stream', '{"text_input":"x","count":"x"}', 400, /count/],
      ['/v2/models/repeat_int32/generate_stream', '{"IN":[1,2,3],"DELAY":[0,0],"WAIT":[0]}', 400, /IN is \[3\], DELAY is \[2\]/],
      ['/v2/models/no_such_model/generate', '{"text_input":"x"}', 404, /no_such_model/],
      ['/v2/models/text_repeat/generate', '{"text_input":"x","count":2}', 400, /exactly one/],
    ];
    for (const [path, body, status, pattern] of cases) {
      const r = await post(path, body);
      assert.equal(r.status, status, `${path} ${body}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      const j = JSON.parse(r.body) as { error: string };
      assert.match(j.error, pattern);
    }
  });

  test('an error after streaming started is an `event: error` frame after the data frames', { timeout: 10_000 }, async () => {
    const r = await post('/v2/models/fail_after_two/generate_stream', '{"text_input":"x"}');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    const f = frames(r.body);
    assert.equal(f.length, 3, r.body);
    assert.deepEqual(f.slice(0, 2).map((x) => [x.event, JSON.parse(x.data).text_output]), [[undefined, 'one'], [undefined, 'two']]);
    assert.equal(f[2].event, 'error');
    const e = JSON.parse(f[2].data) as { error: string; code?: string };
    assert.match(e.error, /deliberate failure after two responses/);
    assert.match(e.error, /fail_after_two/);
    assert.equal(e.code, 'INTERNAL');
  });

  test('the SDK surfaces a mid-stream error after the responses before it', { timeout: 10_000 }, async () => {
    const c = PROTOCOLS.find((p) => p.name === 'http')!.client(server);
    try {
      const got: unknown[] = [];
      const e = await failure(async () => {
        for await (const r of c.generateStream('fail_after_two', { text_input: 'x' })) got.push(r.text_output);
      });
      assert.deepEqual(got, ['one', 'two']);
      assert.equal(e.code, 'INTERNAL');
      assert.match(e.message, /deliberate failure/);
    } finally {
      await c.close();
    }
  });

  test('generate (not streaming) answers application/json', { timeout: 10_000 }, async () => {
    const r = await post('/v2/models/text_echo/generate', '{"text_input":"plain","id":"g1"}');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), { model_name: 'text_echo', model_version: '1', id: 'g1', text_output: 'plain' });
  });

  test('a client that disconnects mid-stream stops the model', { timeout: 15_000 }, async () => {
    const file = progressFile('sse-disconnect');
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${baseUrl(server)}/v2/models/ticker/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString('utf8');
          if (buf.split('\n\n').length - 1 >= 3) {
            req.destroy();
            resolve();
          }
        });
        res.on('error', () => {});
      });
      req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
      req.end(JSON.stringify({ text_input: 'go', file }));
    });
    const steps = await assertStopped(file);
    assert.ok(steps >= 3 && steps < 40, `the model made ${steps} steps`);
  });
});
