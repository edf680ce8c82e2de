// gRPC-Web from a client nobody here wrote: @connectrpc/connect-web's createGrpcWebTransport on Node's
// fetch, against the REST port (HTTP/1.1, as browsers reach it), with descriptors protoc builds from
// Duet's .proto files. connect-web speaks binary gRPC-Web only (its non-binary option is JSON, not
// grpc-web-text), so text mode is tested with raw frames over the same calls.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary, type DescMessage, type FileRegistry } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { baseUrl, startTestServer } from './harness.js';
import type { RunningServer } from '../src/server.js';
import { duetRegistry, encode, frame, messageType, rawCall } from './grpc-web-fixture.js';

const ROW = 128;

/** A client built from descriptors at run time has no static method types: each method takes and gives plain objects. */
type Methods = Record<string, (req: object) => Promise<unknown> & AsyncIterable<unknown>>;

function myModelInput(rows: number): { data: Float32Array; sums: number[] } {
  const data = new Float32Array(rows * ROW);
  for (let i = 0; i < data.length; i++) data[i] = (i % ROW) * (1 + Math.floor(i / ROW)) / 64;
  const sums = Array.from({ length: rows }, (_, r) => data.subarray(r * ROW, (r + 1) * ROW).reduce((a, b) => a + b, 0));
  return { data, sums };
}

const f32 = (b: Uint8Array) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const firstI32 = (b: Uint8Array) => new Int32Array(Uint8Array.from(b).buffer)[0];
const i32le = (...v: number[]) => new Uint8Array(Int32Array.from(v).buffer);

describe('gRPC-Web through @connectrpc/connect-web (binary)', () => {
  let server: RunningServer;
  let reg: FileRegistry;
  let inference: Methods;
  let generator: Methods;
  before(async () => {
    reg = duetRegistry();
    server = await startTestServer();
    const transport = createGrpcWebTransport({ baseUrl: baseUrl(server), useBinaryFormat: true });
    inference = createClient(reg.getService('inference.GRPCInferenceService')!, transport) as unknown as Methods;
    generator = createClient(reg.getService('duet.Generator')!, transport) as unknown as Methods;
  });
  after(() => server?.stop());

  test('ServerLive and ModelMetadata', async () => {
    const live = await inference.serverLive({}) as { live: boolean };
    assert.equal(live.live, true);
    const meta = await inference.modelMetadata({ name: 'my_model' }) as { name: string; inputs: { name: string; datatype: string; shape: bigint[] }[] };
    assert.equal(meta.name, 'my_model');
    assert.equal(meta.inputs[0].name, 'INPUT0');
    assert.equal(meta.inputs[0].datatype, 'FP32');
    assert.deepEqual(meta.inputs[0].shape, [-1n, 128n]);
  });

  test('ModelInfer on my_model sums each row', async () => {
    const { data, sums } = myModelInput(3);
    const res = await inference.modelInfer({
      modelName: 'my_model', id: 'web-1',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [3n, 128n] }],
      rawInputContents: [new Uint8Array(data.buffer)],
    }) as { id: string; outputs: { name: string; shape: bigint[] }[]; rawOutputContents: Uint8Array[] };
    assert.equal(res.id, 'web-1');
    assert.equal(res.outputs[0].name, 'OUTPUT0');
    assert.deepEqual(res.outputs[0].shape, [3n, 1n]);
    const got = Array.from(f32(res.rawOutputContents[0]));
    got.forEach((v, i) => assert.ok(Math.abs(v - sums[i]) < 1e-3, `row ${i}: ${v} vs ${sums[i]}`));
  });

  test('an unknown model is NotFound with the message', async () => {
    await assert.rejects(inference.modelMetadata({ name: 'no_such_model' }), (e: unknown) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.NotFound);
      assert.match(e.rawMessage, /no_such_model/);
      return true;
    });
  });

  test('Generate on tiny_gpt streams tokens, the last one final', async () => {
    const got: { text: string; index: number; final: boolean; finishReason: string }[] = [];
    for await (const m of generator.generate({ model: 'tiny_gpt', prompt: 'Hello', maxTokens: 5, seed: 1n })) got.push(m as never);
    assert.ok(got.length >= 2, `${got.length} messages`);
    got.forEach((m, i) => assert.equal(m.index, i));
    assert.equal(got.at(-1)!.final, true);
    assert.equal(got.filter((m) => m.final).length, 1);
  });

  test('ModelStreamInfer with one request streams a decoupled model\'s responses', async () => {
    const outs: number[] = [];
    for await (const r of inference.modelStreamInfer({
      modelName: 'repeat_int32',
      inputs: [{ name: 'IN', datatype: 'INT32', shape: [3n] }, { name: 'DELAY', datatype: 'UINT32', shape: [3n] }, { name: 'WAIT', datatype: 'UINT32', shape: [1n] }],
      rawInputContents: [i32le(4, 5, 6), i32le(0, 0, 0), i32le(0)],
    }) as AsyncIterable<{ errorMessage: string; inferResponse?: { rawOutputContents: Uint8Array[] } }>) {
      assert.equal(r.errorMessage, '');
      outs.push(firstI32(r.inferResponse!.rawOutputContents[0]));
    }
    assert.deepEqual(outs, [4, 5, 6]);
  });

  test('reflection with one request per call lists the services', async () => {
    const reflection = createClient(reg.getService('grpc.reflection.v1.ServerReflection')!, createGrpcWebTransport({ baseUrl: baseUrl(server) })) as unknown as Methods;
    const names: string[] = [];
    for await (const r of reflection.serverReflectionInfo({ messageRequest: { case: 'listServices', value: '' } }) as AsyncIterable<{ messageResponse: { case: string; value: { service: { name: string }[] } } }>) {
      assert.equal(r.messageResponse.case, 'listServicesResponse');
      names.push(...r.messageResponse.value.service.map((s) => s.name));
    }
    for (const s of ['inference.GRPCInferenceService', 'duet.Generator', 'Predictor', 'grpc.health.v1.Health']) assert.ok(names.includes(s), `${s} in ${names}`);
  });

  describe('text mode (raw frames: connect-web has no grpc-web-text)', () => {
    const TEXT = { 'content-type': 'application/grpc-web-text', accept: 'application/grpc-web-text' };
    const url = (path: string) => `${baseUrl(server)}${path}`;
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const parse = <D extends DescMessage>(schema: D, b: Uint8Array) => fromBinary(schema, b);

    test('unary ModelInfer: the answer is base64 frames in the request\'s mode', async () => {
      const { data, sums } = myModelInput(2);
      const req = encode(messageType(reg, 'inference.ModelInferRequest'), {
        modelName: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2n, 128n] }], rawInputContents: [new Uint8Array(data.buffer)],
      });
      const r = await rawCall(url('/inference.GRPCInferenceService/ModelInfer'), b64(frame(req)), TEXT);
      assert.equal(r.res.status, 200);
      assert.equal(r.res.headers.get('content-type'), 'application/grpc-web-text+proto');
      assert.equal(r.status, 0, r.message);
      assert.match(r.raw.toString('latin1'), /^[A-Za-z0-9+/=]+$/);
      const out = parse(messageType(reg, 'inference.ModelInferResponse'), r.frames[0].data) as unknown as { rawOutputContents: Uint8Array[] };
      assert.deepEqual(Array.from(f32(out.rawOutputContents[0])).map((v) => Math.round(v * 1000)), sums.map((v) => Math.round(v * 1000)));
    });

    test('a body cut into odd chunks and sent as two padded segments still decodes', async () => {
      const req = frame(encode(messageType(reg, 'inference.ModelMetadataRequest'), { name: 'simple' }));
      // Two base64 segments, each padded, one after the other (as clients that encode per write send them).
      const body = b64(req.subarray(0, 4)) + b64(req.subarray(4));
      assert.ok(/=[A-Za-z0-9+/]/.test(body), 'padding mid-body');
      const chunks = [body.slice(0, 3), body.slice(3, 9), body.slice(9)];
      const stream = new ReadableStream({ pull(c) { const n = chunks.shift(); if (n) c.enqueue(new TextEncoder().encode(n)); else c.close(); } });
      const res = await fetch(url('/inference.GRPCInferenceService/ModelMetadata'), { method: 'POST', headers: TEXT, body: stream, duplex: 'half' } as RequestInit);
      const raw = Buffer.from(await res.arrayBuffer());
      const { parseFrames, trailerOf } = await import('./grpc-web-fixture.js');
      const frames = parseFrames(raw, true);
      assert.equal(trailerOf(frames)['grpc-status'], '0');
      const meta = parse(messageType(reg, 'inference.ModelMetadataResponse'), frames[0].data) as unknown as { name: string };
      assert.equal(meta.name, 'simple');
    });

    test('server streaming Generate: each frame is encoded as it is sent', async () => {
      const req = encode(messageType(reg, 'duet.GenerateRequest'), { model: 'tiny_gpt', prompt: 'Hi', maxTokens: 4, seed: 2n });
      const r = await rawCall(url('/duet.Generator/Generate'), b64(frame(req)), TEXT);
      assert.equal(r.status, 0, r.message);
      const msgs = r.frames.filter((f) => f.flag === 0).map((f) => parse(messageType(reg, 'duet.GenerateResponse'), f.data) as unknown as { final: boolean });
      assert.ok(msgs.length >= 2);
      assert.equal(msgs.at(-1)!.final, true);
      // One padded base64 segment per frame: the body has as many segments as frames.
      const segments = r.raw.toString('latin1').match(/[^=]*(?:=+|$)/g)!.filter((s) => s).length;
      assert.ok(segments >= 2, `${segments} segments`);
    });

    test('ModelStreamInfer with one request, text mode', async () => {
      const req = encode(messageType(reg, 'inference.ModelInferRequest'), {
        modelName: 'repeat_int32',
        inputs: [{ name: 'IN', datatype: 'INT32', shape: [2n] }, { name: 'DELAY', datatype: 'UINT32', shape: [2n] }, { name: 'WAIT', datatype: 'UINT32', shape: [1n] }],
        rawInputContents: [i32le(7, 8), i32le(0, 0), i32le(0)],
      });
      const r = await rawCall(url('/inference.GRPCInferenceService/ModelStreamInfer'), b64(frame(req)), TEXT);
      assert.equal(r.status, 0, r.message);
      const outs = r.frames.filter((f) => f.flag === 0).map((f) => {
        const m = parse(messageType(reg, 'inference.ModelStreamInferResponse'), f.data) as unknown as { inferResponse: { rawOutputContents: Uint8Array[] } };
        return firstI32(m.inferResponse.rawOutputContents[0]);
      });
      assert.deepEqual(outs, [7, 8]);
    });
  });
});
