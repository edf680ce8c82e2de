import assert from 'node:assert/strict';
import { test } from 'node:test';
import Long from 'long';
import { inference } from '../../generated/proto.js';
import type { InferResponse } from '../../core/infer.js';
import { decodeInferRequest, encodeInferResponse } from './codec.js';
import { INFERENCE_SERVICE, type ServerMethodDefinition } from './definitions.js';
import { InferReply, readInferRequest, writeInferResponse, writeStreamInferResponse } from './infer-wire.js';

const I = inference;
const def = INFERENCE_SERVICE.ModelInfer as ServerMethodDefinition;

/** What the handler makes of a request body, or the error it answers with: by protobufjs alone, or as served. */
function outcome(b: Buffer, decode: (b: Buffer) => unknown): unknown {
  let m: unknown;
  try {
    m = decode(b);
  } catch (e) {
    return { decodeError: (e as Error).message };
  }
  if (m && typeof m === 'object' && 'message' in m && !('inputs' in m)) return { failure: (m as Error).message };
  try {
    const r = decodeInferRequest(m as inference.ModelInferRequest);
    return { ...r, inputs: r.inputs.map((t) => ({ ...t, data: Buffer.from(t.data).toString('hex') })) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const pure = (b: Buffer) => {
  try {
    return I.ModelInferRequest.decode(b);
  } catch (e) {
    return { message: `malformed ModelInfer request: ${(e as Error).message}` };
  }
};

const f32 = (...v: number[]) => Buffer.from(new Float32Array(v).buffer);
const requests: inference.IModelInferRequest[] = [
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [f32(1, 2)] },
  { model_name: 'my_model', model_version: '3', id: 'req-1', inputs: [{ name: 'a', datatype: 'INT32', shape: [2] }, { name: 'b', datatype: 'BYTES', shape: [1] }],
    outputs: [{ name: 'y' }, { name: 'z' }], raw_input_contents: [Buffer.from([1, 0, 0, 0, 2, 0, 0, 0]), Buffer.from([3, 0, 0, 0, 97, 98, 99])] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [300, 70000] }], raw_input_contents: [Buffer.alloc(0)] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [] }], raw_input_contents: [f32(5)] },
  // Names of the same length as ones read before (the reader keeps recent names), and a long one.
  { model_name: 'my_modem', inputs: [{ name: 'y', datatype: 'INT32', shape: [1] }], raw_input_contents: [f32(5)] },
  { model_name: 'm'.repeat(100), id: 'x'.repeat(70), inputs: [{ name: 'x'.repeat(65), datatype: 'FP32', shape: [1] }], outputs: [{ name: 'o' }], raw_input_contents: [f32(5)] },
  { model_name: 'm', inputs: [] },
  // Left to protobufjs (and codec.ts's messages): requests codec.ts refuses...
  { model_name: '', inputs: [] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2] }], raw_input_contents: [f32(1, 2), f32(3)] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2] }, { name: 'y', datatype: 'FP32', shape: [2] }], raw_input_contents: [f32(1, 2)] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP9', shape: [2] }], raw_input_contents: [f32(1, 2)] },
  // ...and shapes the hand-written reader does not read.
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }], raw_input_contents: [f32(1)] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [Long.fromString('9007199254740993')] }], raw_input_contents: [f32(1)] },
  { model_name: 'modèle', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [f32(1)] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } }] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'INT64', shape: [2], contents: { int64_contents: [1, Long.fromString('-5')] } }] },
  { model_name: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }], raw_input_contents: [f32(1)] },
  { model_name: 'm', parameters: { b: { bool_param: true }, i: { int64_param: -3 }, u: { uint64_param: Long.fromString('18446744073709551615', true) }, s: { string_param: 'x' }, d: { double_param: 0.5 } },
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1], parameters: { binary_data_size: { int64_param: 4 } } }], outputs: [{ name: 'y', parameters: { binary_data: { bool_param: true } } }], raw_input_contents: [f32(1)] },
];

const FAST_REQUESTS = 7;

test('ModelInfer requests decode as protobufjs decodes them, common shapes without it', () => {
  requests.forEach((q, i) => {
    const b = Buffer.from(I.ModelInferRequest.encode(q).finish());
    assert.deepEqual(outcome(b, def.requestDeserialize), outcome(b, pure), `request ${i}`);
    if (i < FAST_REQUESTS) assert.ok(readInferRequest(b), `request ${i} takes the fast path`);
    else assert.equal(readInferRequest(b), undefined, `request ${i} is left to protobufjs`);
  });
  // Unpacked dims and repeated singular fields (last one wins), as other encoders may send.
  const w = I.ModelInferRequest.encode({ model_name: 'a' });
  w.uint32(10).string('b').uint32(42).fork().uint32(10).string('x').uint32(18).string('FP32').uint32(24).int64(2).uint32(24).int64(1).ldelim().uint32(58).bytes(f32(1, 2));
  const b = Buffer.from(w.finish());
  assert.ok(readInferRequest(b));
  assert.deepEqual(outcome(b, def.requestDeserialize), outcome(b, pure));
});

test('malformed and mutated ModelInfer requests get the same results and messages as with protobufjs', () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (const q of requests) {
    const b = Buffer.from(I.ModelInferRequest.encode(q).finish());
    for (let cut = 0; cut < b.byteLength; cut++) {
      const t = b.subarray(0, cut);
      assert.deepEqual(outcome(Buffer.from(t), def.requestDeserialize), outcome(Buffer.from(t), pure), `cut at ${cut}`);
    }
    for (let k = 0; k < 300 && b.byteLength; k++) {
      const m = Buffer.from(b);
      for (let j = 1 + rand(3); j > 0; j--) m[rand(m.byteLength)] = rand(256);
      assert.deepEqual(outcome(m, def.requestDeserialize), outcome(Buffer.from(m), pure), `mutation ${m.toString('hex')}`);
    }
  }
});

test('ModelInfer responses encode to the bytes protobufjs writes', () => {
  const responses: InferResponse[] = [
    { modelName: 'm', modelVersion: '', outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [1, 2], data: f32(1, 2) }] },
    { modelName: 'my_model', modelVersion: '1', id: 'r', outputs: [{ name: 'a', datatype: 'INT32' as const, shape: [0], data: new Uint8Array(0) },
      { name: 'b', datatype: 'FP32' as const, shape: [], data: f32(3) }, { name: 'c', datatype: 'UINT8' as const, shape: [200000], data: new Uint8Array(200000).fill(9) }] },
    { modelName: 'm', modelVersion: '', id: '', outputs: [] },
    { modelName: 'm', modelVersion: '', outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [2 ** 40, 129, 16384], data: f32(1) }] },
    { modelName: 'm', modelVersion: '', parameters: { sequence_end: true }, outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [1], data: f32(1) }] },
    { modelName: 'modèle', modelVersion: '', outputs: [{ name: 'y', datatype: 'FP32' as const, shape: [1], data: f32(1) }] },
  ];
  responses.forEach((r, i) => {
    const msg = encodeInferResponse(r);
    const want = Buffer.from(I.ModelInferResponse.encode(msg).finish());
    assert.deepEqual(def.responseSerialize(msg), want, `response ${i}`);
    const framed = writeInferResponse(msg, 5);
    if (i < 4) assert.deepEqual(framed?.subarray(5), want, `response ${i} framed`);
    else assert.equal(framed, undefined, `response ${i} is left to protobufjs`);
    // The server's handler answers with the data plane's response itself.
    const reply = new InferReply(r, encodeInferResponse);
    assert.deepEqual(def.responseSerialize(reply), want, `response ${i} from the tensors`);
    const direct = def.responseFrame!(reply);
    if (i < 4) assert.deepEqual(direct?.subarray(5), want, `response ${i} framed from the tensors`);
    else assert.equal(direct, undefined, `response ${i} from the tensors is left to protobufjs`);
  });
});

test('ModelStreamInfer responses encode to the bytes protobufjs writes', () => {
  const stream = INFERENCE_SERVICE.ModelStreamInfer as ServerMethodDefinition;
  const text = (s: string) => ({ modelName: 'tiny_gpt', modelVersion: '1', outputs: [{ name: 'text_output', datatype: 'BYTES' as const, shape: [1], data: Buffer.concat([Buffer.from([s.length, 0, 0, 0]), Buffer.from(s)]) }] });
  const messages: inference.IModelStreamInferResponse[] = [
    { infer_response: encodeInferResponse(text(' the')) },
    { infer_response: encodeInferResponse({ ...text('x'), id: 'req-7' }) },
    // An inner message of 128 bytes and more needs a two-byte length; 16384 and more, three.
    { infer_response: encodeInferResponse(text('y'.repeat(200))) },
    { infer_response: encodeInferResponse(text('z'.repeat(20000))) },
    { infer_response: encodeInferResponse({ modelName: 'm', modelVersion: '', outputs: [] }) },
    // Left to protobufjs: an error, parameters (the last token's finish_reason, the final flag).
    { error_message: 'boom', infer_response: { model_name: 'm', model_version: '', id: '', parameters: { error_code: { string_param: 'INTERNAL' } } } },
    { error_message: '', infer_response: encodeInferResponse(text('a')) },
    { infer_response: encodeInferResponse({ ...text('.'), parameters: { finish_reason: 'stop' } }) },
  ];
  messages.forEach((m, i) => {
    const want = Buffer.from(I.ModelStreamInferResponse.encode(m).finish());
    assert.deepEqual(stream.responseSerialize(m), want, `message ${i}`);
    const framed = writeStreamInferResponse(m, 5);
    if (i < 5) assert.deepEqual(framed?.subarray(5), want, `message ${i} framed`);
    else assert.equal(framed, undefined, `message ${i} is left to protobufjs`);
  });
});
