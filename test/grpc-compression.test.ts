// gRPC response compression (--grpc-infer-response-compression-level, as Triton) and the HTTP/2
// SETTINGS_MAX_CONCURRENT_STREAMS the gRPC port advertises (--grpc-max-concurrent-streams). grpc-js is
// the independent client; raw node:http2 reads the frame flag and headers it hides.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { gunzipSync, inflateSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { inference } from '../src/generated/proto.js';
import { INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import { responseEncoding } from '../src/protocols/grpc/framing.js';
import { startServer, type RunningServer } from '../src/server.js';
import { MODELS } from './harness.js';

const LOAD = { modelRepository: MODELS, host: '127.0.0.1', httpPort: 0, metricsPort: 0, grpcPort: 0, modelControlMode: 'explicit' as const, loadModels: ['identity_fp32'] };

let plain: RunningServer;
let packed: RunningServer;

before(async () => {
  plain = await startServer(LOAD);
  packed = await startServer({ ...LOAD, grpcInferResponseCompressionLevel: 6 });
});
after(async () => {
  await plain.stop();
  await packed.stop();
});

/** 1024 floats (4 KiB out), repetitive enough for zlib to shrink well. */
const x = Float32Array.from({ length: 1024 }, (_, i) => i % 8);
const request: inference.ModelInferRequest.$Properties = {
  model_name: 'identity_fp32',
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, x.length] }],
  raw_input_contents: [Buffer.from(x.buffer)],
};

function grpcJsInfer(s: RunningServer): Promise<inference.ModelInferResponse> {
  const c = new grpc.Client(`127.0.0.1:${s.grpc!.port}`, grpc.credentials.createInsecure());
  const def = INFERENCE_SERVICE.ModelInfer;
  return new Promise<inference.ModelInferResponse>((resolve, reject) => {
    c.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, (err, res) =>
      (err ? reject(err) : resolve(res as inference.ModelInferResponse)));
  }).finally(() => c.close());
}

interface Raw { headers: http2.IncomingHttpHeaders; flag: number; message: Buffer; status: string }

/** One ModelInfer (or one-message ModelStreamInfer) over raw HTTP/2 with the given grpc-accept-encoding (none when undefined). */
function rawInfer(s: RunningServer, accept?: string, path = INFERENCE_SERVICE.ModelInfer.path): Promise<Raw> {
  const session = http2.connect(`http://127.0.0.1:${s.grpc!.port}`);
  const payload = Buffer.from(inference.ModelInferRequest.encode(request).finish());
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.byteLength, 1);
  return new Promise<Raw>((resolve, reject) => {
    const req = session.request({
      ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers',
      ...(accept === undefined ? {} : { 'grpc-accept-encoding': accept }),
    });
    let headers: http2.IncomingHttpHeaders = {};
    let status = '';
    const chunks: Buffer[] = [];
    req.on('response', (h) => { headers = h; });
    req.on('trailers', (t) => { status = String(t['grpc-status']); });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      assert.equal(body.readUInt32BE(1), body.byteLength - 5, 'one whole message');
      resolve({ headers, flag: body[0], message: body.subarray(5), status });
    });
    req.on('error', reject);
    req.end(Buffer.concat([head, payload]));
  }).finally(() => session.close());
}

const outputOf = (bytes: Buffer) => Buffer.from(inference.ModelInferResponse.decode(bytes).raw_output_contents[0]);

describe('response compression (--grpc-infer-response-compression-level)', () => {
  test('grpc-js gets the same ModelInfer result compressed as uncompressed', async () => {
    const [a, b] = await Promise.all([grpcJsInfer(plain), grpcJsInfer(packed)]);
    assert.deepEqual(Buffer.from(b.raw_output_contents[0]), Buffer.from(a.raw_output_contents[0]));
    assert.deepEqual(new Float32Array(new Uint8Array(b.raw_output_contents[0]).buffer), x);
  });

  test('on the wire: gzip preferred, the frame flagged compressed and grpc-encoding set', async () => {
    const r = await rawInfer(packed, 'identity, deflate, gzip');
    assert.equal(r.status, '0');
    assert.equal(r.headers['grpc-encoding'], 'gzip');
    assert.equal(r.flag, 1);
    assert.ok(r.message.byteLength < 4096, `compressed to ${r.message.byteLength} bytes`);
    assert.deepEqual(outputOf(gunzipSync(r.message)), Buffer.from(x.buffer));
  });

  test('ModelStreamInfer responses are compressed too', async () => {
    const r = await rawInfer(packed, 'gzip', INFERENCE_SERVICE.ModelStreamInfer.path);
    assert.equal(r.status, '0');
    assert.equal(r.headers['grpc-encoding'], 'gzip');
    assert.equal(r.flag, 1);
    const res = inference.ModelStreamInferResponse.decode(gunzipSync(r.message));
    assert.deepEqual(Buffer.from(res.infer_response!.raw_output_contents![0]), Buffer.from(x.buffer));
  });

  test('deflate when that is all the client accepts', async () => {
    const r = await rawInfer(packed, 'deflate');
    assert.equal(r.headers['grpc-encoding'], 'deflate');
    assert.equal(r.flag, 1);
    assert.deepEqual(outputOf(inflateSync(r.message)), Buffer.from(x.buffer));
  });

  test('a client accepting neither gzip nor deflate (or naming none) gets identity', async () => {
    for (const accept of ['identity', 'snappy,identity', undefined]) {
      const r = await rawInfer(packed, accept);
      assert.equal(r.status, '0');
      assert.equal(r.headers['grpc-encoding'], undefined, `accept ${accept}`);
      assert.equal(r.flag, 0);
      assert.deepEqual(outputOf(r.message), Buffer.from(x.buffer));
    }
  });

  test('the default sends uncompressed, whatever the client accepts', async () => {
    const r = await rawInfer(plain, 'gzip,deflate');
    assert.equal(r.headers['grpc-encoding'], undefined);
    assert.equal(r.flag, 0);
    assert.deepEqual(outputOf(r.message), Buffer.from(x.buffer));
  });

  test('responseEncoding prefers gzip, then deflate, case and spaces aside', () => {
    assert.equal(responseEncoding('deflate, GZIP'), 'gzip');
    assert.equal(responseEncoding(['identity', 'deflate']), 'deflate');
    assert.equal(responseEncoding('identity'), undefined);
    assert.equal(responseEncoding(undefined), undefined);
  });
});

/** The SETTINGS_MAX_CONCURRENT_STREAMS a fresh raw HTTP/2 client is told. */
async function advertisedStreams(port: number): Promise<number | undefined> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
    });
    return session.remoteSettings.maxConcurrentStreams;
  } finally {
    session.close();
  }
}

describe('--grpc-max-concurrent-streams', () => {
  test("the default is Node's: 2^32-1, no limit", async () => {
    assert.equal(await advertisedStreams(plain.grpc!.port), 2 ** 32 - 1);
  });

  test('grpcMaxConcurrentStreams is advertised in SETTINGS', async () => {
    const s = await startServer({ ...LOAD, loadModels: [], grpcMaxConcurrentStreams: 7 });
    try {
      assert.equal(await advertisedStreams(s.grpc!.port), 7);
    } finally {
      await s.stop();
    }
  });
});
