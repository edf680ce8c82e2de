// Bad input gets the same answer on both protocols: the same code (by the error table) and the same
// message, checked by sending one request as REST (binary extension) and as gRPC (raw contents),
// unary and on a ModelStreamInfer stream. Then the REST-only JSON paths that once answered 500:
// tensor data, shapes, datatypes and parameters nested thousands of levels deep.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpClient } from '../packages/client/src/node.js';
import type { InferenceClient } from '../packages/client/src/types.js';
import { DATATYPES } from '../src/core/datatypes.js';
import { InferenceError, STATUS_TABLE } from '../src/core/errors.js';
import { inference } from '../src/generated/proto.js';
import type { RunningServer } from '../src/server.js';
import { frame, grpcCall, INFER_PATH, STREAM_PATH } from './fuzz/h2.js';
import { toProto, toRest, type NeutralRequest } from './fuzz/parity-cases.js';
import { baseUrl, PROTOCOLS, scratchRepo, startTestServer } from './harness.js';

// Holds its one instance for `sleep_ms`, so a second request waits in the queue.
const SLEEPY = `
export default class Sleepy {
  async execute(requests: any[]) {
    const ms = Math.max(0, ...requests.map((r) => Number(r.parameters.sleep_ms ?? 0)));
    await new Promise((r) => setTimeout(r, ms));
    return requests.map((r) => ({ outputs: [{ name: 'Y', datatype: 'FP32', shape: r.inputs.X.shape, data: r.inputs.X.typed() }] }));
  }
}`;
const SLEEPY_CONFIG = `
name: "sleepy"
backend: "typescript"
max_batch_size: 1
input [ { name: "X", data_type: TYPE_FP32, dims: [ 1 ] } ]
output [ { name: "Y", data_type: TYPE_FP32, dims: [ 1 ] } ]
dynamic_batching { default_queue_policy { default_timeout_microseconds: 10000000, allow_timeout_override: true } }
instance_group [ { count: 1, kind: KIND_CPU } ]
`;

let server: RunningServer;
let repo: Awaited<ReturnType<typeof scratchRepo>>;
let rest: HttpClient;
let session: http2.ClientHttp2Session;

before(async () => {
  repo = await scratchRepo(['my_model', 'simple', 'simple_string', 'identity_int64', 'identity_bytes', 'identity_fp16', 'text_echo',
    ...DATATYPES.map((d) => `identity_${d.toLowerCase()}`).filter((m) => !['identity_int64', 'identity_bytes', 'identity_fp16'].includes(m))]);
  await mkdir(join(repo.dir, 'sleepy', '1'), { recursive: true });
  await writeFile(join(repo.dir, 'sleepy', 'config.pbtxt'), SLEEPY_CONFIG);
  await writeFile(join(repo.dir, 'sleepy', '1', 'model.ts'), SLEEPY);
  server = await startTestServer(repo.dir);
  rest = new HttpClient(baseUrl(server));
  session = http2.connect(`http://127.0.0.1:${server.grpc!.port}`);
});
after(async () => {
  session.close();
  await rest.close();
  await server.stop();
  await repo.cleanup();
});

const f32 = (n: number, v = 1) => Buffer.from(new Float32Array(n).fill(v).buffer);
const strings = (els: string[]) => Buffer.concat(els.flatMap((s) => {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(Buffer.byteLength(s));
  return [h, Buffer.from(s)];
}));
const myModel = (over: Partial<NeutralRequest['inputs'][0]> = {}, rest: Partial<NeutralRequest> = {}): NeutralRequest => ({
  model: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: f32(128), ...over }], parameters: {}, ...rest,
});

interface Answer { code: string; message: string }

/** Send `req` over REST, unary gRPC and a gRPC stream; all three must fail alike. Returns the answer. */
async function sameEverywhere(req: NeutralRequest): Promise<Answer> {
  const h = toRest(req);
  const r = await rest.request('POST', h.path, h.body, h.headers);
  const restMessage = (JSON.parse(r.text) as { error?: string }).error ?? '';
  const g = await grpcCall(session, INFER_PATH, frame(toProto(req)));
  const s = await grpcCall(session, STREAM_PATH, frame(toProto(req)));
  const streamed = inference.ModelStreamInferResponse.decode(s.messages[0]);

  assert.ok(r.status >= 400 && r.status < 500, `REST answered ${r.status}: ${r.text}`);
  const code = Object.entries(STATUS_TABLE).find(([, row]) => row.grpc === g.status)?.[0] ?? `gRPC ${g.status}`;
  assert.equal(STATUS_TABLE[code as keyof typeof STATUS_TABLE]?.http, r.status, `REST ${r.status} "${restMessage}" but gRPC ${code} "${g.message}"`);
  assert.equal(g.message, restMessage, 'REST and gRPC messages differ');
  assert.equal(s.status, 0, `the stream itself ends OK, got ${s.status} ${s.message}`);
  assert.equal(streamed.error_message, restMessage, 'ModelStreamInfer error_message differs');
  assert.equal(streamed.infer_response?.parameters?.error_code?.string_param, code);
  return { code, message: restMessage };
}

describe('same error, same meaning, on REST, gRPC and gRPC streams', () => {
  test('a negative dimension is named as such (gRPC once said "expected [-1,128], got [-1,128]")', async () => {
    const a = await sameEverywhere(myModel({ shape: [-1, 128] }));
    assert.equal(a.code, 'INVALID_ARGUMENT');
    assert.equal(a.message, "model 'my_model' input 'INPUT0': shape [-1,128] has dimension 0 = -1; dimensions must be non-negative integers");
    const b = await sameEverywhere(myModel({ shape: [1, -(2n ** 63n)] }));
    assert.match(b.message, /dimension 1 = -9223372036854776000; dimensions must be non-negative integers/);
  });

  test('dimensions beyond 2^53, and dimensions whose product overflows, are refused by name', async () => {
    const big = await sameEverywhere({ model: 'identity_int64', inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 2n ** 63n - 1n], data: Buffer.alloc(8) }], parameters: {} });
    assert.match(big.message, /^model 'identity_int64' input 'INPUT0': shape \[1,9223372036854776000\] has dimension 1 = 9223372036854776000; dimensions must be non-negative integers$/);
    const product = await sameEverywhere({ model: 'identity_int64', inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [2 ** 31, 2 ** 31, 2 ** 31], data: Buffer.alloc(8) }], parameters: {} });
    assert.match(product.message, /input 'INPUT0': shape \[2147483648,2147483648,2147483648\] is too large: its non-zero dimensions multiply to more than 2\^53/);
    const zero = await sameEverywhere({ model: 'identity_int64', inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [0, 2 ** 40, 2 ** 40], data: Buffer.alloc(0) }], parameters: {} });
    assert.match(zero.message, /too large/);
  });

  test('unknown datatypes, names, versions and models', async () => {
    assert.match((await sameEverywhere(myModel({ datatype: 'FP33' }))).message, /input 'INPUT0': unknown datatype "FP33"; expected one of BOOL, .*BYTES$/);
    assert.match((await sameEverywhere(myModel({ datatype: 'fp32' }))).message, /unknown datatype "fp32"/);
    assert.match((await sameEverywhere(myModel({ name: 'INPUT9' }))).message, /has no input 'INPUT9'; its inputs are 'INPUT0'/);
    assert.match((await sameEverywhere(myModel({}, { version: '7' }))).message, /'7'/);
    assert.equal((await sameEverywhere(myModel({}, { model: 'no_such_model' }))).code, 'NOT_FOUND');
  });

  test('data size against the shape, and BYTES lengths', async () => {
    assert.match((await sameEverywhere(myModel({ data: f32(127) }))).message, /expected 128 elements \(512 bytes\) for FP32 shape \[1,128\], got 127 elements \(508 bytes\)/);
    assert.match((await sameEverywhere(myModel({ data: Buffer.alloc(511) }))).message, /got 511 bytes/);
    const bytes = (data: Buffer, shape = [1, 1]): NeutralRequest =>
      ({ model: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape, data }], parameters: {} });
    const long = strings(['abc']);
    long.writeUInt32LE(1000, 0);
    assert.match((await sameEverywhere(bytes(long))).message, /BYTES element 0 claims 1000 bytes but only 3 remain/);
    assert.match((await sameEverywhere(bytes(Buffer.from([1, 0])))).message, /truncated BYTES element length at byte 0 of 2/);
    assert.match((await sameEverywhere(bytes(strings(['a', 'b'])))).message, /expected 1 BYTES elements for shape \[1,1\], got 2/);
  });

  test('parameters of the wrong type or range', async () => {
    assert.match((await sameEverywhere(myModel({}, { parameters: { priority: 'high' } }))).message, /'priority' must be a non-negative integer, got "high"/);
    assert.match((await sameEverywhere(myModel({}, { parameters: { priority: -3 } }))).message, /'priority'/);
    // Integers only, as Triton takes them: not a string (an empty one once passed as 0), not a bool.
    assert.match((await sameEverywhere(myModel({}, { parameters: { priority: '' } }))).message, /'priority' must be a non-negative integer, got ""$/);
    assert.match((await sameEverywhere(myModel({}, { parameters: { priority: true } }))).message, /'priority' must be a non-negative integer, got true$/);
    assert.match((await sameEverywhere(myModel({}, { parameters: { timeout: '5' } }))).message, /'timeout' must be a non-negative number of microseconds, got "5"$/);
    assert.match((await sameEverywhere(myModel({}, { outputs: [{ name: 'OUTPUT0', parameters: { classification: '' } }] }))).message, /classification must be a positive integer, got ""$/);
    assert.match((await sameEverywhere(myModel({}, { parameters: { timeout: -1 } }))).message, /'timeout'/);
    assert.match((await sameEverywhere(myModel({}, { outputs: [{ name: 'OUTPUT0', parameters: { classification: 0 } }] }))).message, /classification must be a positive integer, got 0/);
  });

  test('a model that rejects its input says so as INVALID_ARGUMENT, not INTERNAL', async () => {
    const els = Array.from({ length: 16 }, (_, i) => String(i));
    const bad = [...els];
    bad[3] = 'x'.repeat(100);
    const a = await sameEverywhere({ model: 'simple_string', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], data: strings(bad) }, { name: 'INPUT1', datatype: 'BYTES', shape: [1, 16], data: strings(els) }], parameters: {} });
    assert.equal(a.code, 'INVALID_ARGUMENT');
    assert.equal(a.message, `model 'simple_string' input INPUT0[3] is not a decimal integer: "${'x'.repeat(40)}…"`);
  });
});

describe('huge timeouts and deadlines mean "no limit", not "now"', () => {
  // setTimeout fires after 1 ms for delays past 2^31-1 ms; such a request once failed at once.
  const sleepy = (parameters: NeutralRequest['parameters']): NeutralRequest =>
    ({ model: 'sleepy', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 1], data: f32(1) }], parameters });

  for (const proto of PROTOCOLS) {
    test(`${proto.name}: a queued request with timeout 2^64-1 µs waits its turn`, async () => {
      const c: InferenceClient = proto.client(server);
      try {
        const first = c.infer('sleepy', [{ name: 'X', datatype: 'FP32', shape: [1, 1], data: new Float32Array([1]) }], { parameters: { sleep_ms: 300 } });
        await new Promise((r) => setTimeout(r, 50));
        const second = await c.infer('sleepy', [{ name: 'X', datatype: 'FP32', shape: [1, 1], data: new Float32Array([2]) }], { parameters: { timeout: 2n ** 64n - 1n } });
        assert.equal(second.output('Y').typed<Float32Array>()[0], 2);
        await first;
      } finally {
        await c.close();
      }
    });
  }

  test('grpc: a queued request with grpc-timeout 99999999H waits its turn', async () => {
    const first = grpcCall(session, INFER_PATH, frame(toProto(sleepy({ sleep_ms: 300 }))));
    await new Promise((r) => setTimeout(r, 50));
    const second = await grpcCall(session, INFER_PATH, frame(toProto(sleepy({}))), { headers: { 'grpc-timeout': '99999999H' } });
    assert.equal(second.status, 0, second.message);
    assert.equal((await first).status, 0);
  });
});

describe('REST JSON nested thousands of levels deep is a clean 400 naming what was nested', () => {
  const deep = (inner: string, depth: number) => '['.repeat(depth) + inner + ']'.repeat(depth);
  const post = async (path: string, text: string) => {
    const r = await rest.request('POST', path, Buffer.from(text), { 'content-type': 'application/json' });
    return { status: r.status, error: (JSON.parse(r.text) as { error?: string }).error ?? '' };
  };
  const sample: Record<string, string> = { BOOL: 'true', BYTES: '"a"', FP16: '1.5', FP32: '1.5', FP64: '1.5' };

  for (const dt of DATATYPES) {
    test(`${dt} data nested 10,000 deep (INT64 once answered 500 "Maximum call stack size exceeded")`, async () => {
      const model = `identity_${dt.toLowerCase()}`;
      const r = await post(`/v2/models/${model}/infer`, `{"inputs":[{"name":"INPUT0","datatype":"${dt}","shape":[1,1],"data":${deep(sample[dt] ?? '1', 10_000)}}]}`);
      assert.equal(r.status, 400, r.error);
      assert.equal(r.error, `model '${model}' input 'INPUT0': 'data' is nested more than 64 levels deep`);
    });
  }

  test('64-bit data beyond 2^53 beside something nested deeply elsewhere', async () => {
    const r = await post('/v2/models/identity_int64/infer', `{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,1],"data":[9007199254740993]}],"extra":${deep('1', 10_000)}}`);
    assert.equal(r.status, 400, r.error);
    assert.match(r.error, /^request body is nested more than 72 levels deep \(at extra\[0\]\[0\]\[0\]…\)$/);
    const ok = await post('/v2/models/identity_int64/infer', `{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,1],"data":${deep('9007199254740993', 60)}}]}`);
    assert.equal(ok.status, 200, ok.error);
  });

  test('a duplicate key in a body that needs the exact 64-bit re-parse is a 400 (it was a 500)', async () => {
    const r = await post('/v2/models/identity_int64/infer', '{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,1],"data":[1],"data":[9007199254740993]}]}');
    assert.equal(r.status, 400, r.error);
    assert.match(r.error, /request body is not valid JSON: Duplicate key 'data'/);
  });

  test('a deep shape, datatype, name, id or parameter is named, never echoed', async () => {
    const input = (field: string, value: string) => {
      const t: Record<string, string> = { name: '"INPUT0"', datatype: '"FP32"', shape: '[1,128]', data: `[${new Array(128).fill(1).join(',')}]` };
      t[field] = value;
      return `{"inputs":[{${Object.entries(t).map(([k, v]) => `"${k}":${v}`).join(',')}}]}`;
    };
    const cases: [string, RegExp][] = [
      [input('shape', deep('1', 10_000)), /input 'INPUT0': 'shape' must be an array of integers, got an array of 1 at index 0/],
      [input('datatype', deep('"FP32"', 10_000)), /input 'INPUT0': unknown datatype an array/],
      [input('name', deep('"INPUT0"', 10_000)), /input 0 must have a 'name' string/],
      [`{"id":${deep('1', 10_000)},"inputs":[]}`, /'id' must be a string/],
      [`{"inputs":[],"parameters":{"p":${deep('1', 10_000)}}}`, /parameter 'p' must be a string, number or boolean, got array/],
    ];
    for (const [text, want] of cases) {
      const r = await post('/v2/models/my_model/infer', text);
      assert.equal(r.status, 400, r.error);
      assert.match(r.error, want);
    }
  });

  test('generate: a parameter nested 10,000 deep', async () => {
    for (const body of [`{"text_input":"hi","extra":${deep('1', 10_000)}}`, `{"text_input":"hi","parameters":{"p":${deep('{}', 10_000)}}}`]) {
      for (const route of ['generate', 'generate_stream']) {
        const r = await post(`/v2/models/text_echo/${route}`, body);
        assert.equal(r.status, 400, r.error);
        assert.match(r.error, /parameter '(extra|p)' is nested more than 64 levels deep/);
      }
    }
  });

  test('the server still answers normally', async () => {
    const r = await rest.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], data: new Float32Array(128).fill(2) }]);
    assert.equal(r.output('OUTPUT0').typed<Float32Array>()[0], 256);
    await assert.rejects(rest.infer('my_model', [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 128], data: new Float32Array(0) }]),
      (e: unknown) => e instanceof InferenceError && e.code === 'INVALID_ARGUMENT');
  });
});
