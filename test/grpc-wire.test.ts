// gRPC-specific behaviour that the protocol-neutral SDK matrix cannot see: grpc.health.v1, server
// reflection, malformed protobuf, unknown methods and content types, HTTP/2 flow-control windows, message
// size limits, compression, typed `contents`, Predictor, cancellation and deadlines. These tests speak
// grpc-js (and where needed raw node:http2) directly, with the service definitions the server exports.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import Long from 'long';
import { GrpcClient } from '../packages/client/src/grpc.js';
import { InferenceError } from '../src/core/errors.js';
import { grpc as g, inference } from '../src/generated/proto.js';
import { toNumber } from '../src/protocols/grpc/codec.js';
import {
  DEFAULT_WINDOW, HEALTH_SERVICE, INFERENCE_SERVICE, PREDICTOR_SERVICE,
} from '../src/protocols/grpc/server.js';
import { startServer, type RunningServer } from '../src/server.js';
import { EXPLICIT, ROOT, scratchRepo, startTestServer } from './harness.js';
import { listServices, reflect as reflectAt } from './reflection-client.js';

const Serving = g.health.v1.HealthCheckResponse.ServingStatus;
type Def = grpc.MethodDefinition<unknown, unknown>;
type Outcome<T> = { err: grpc.ServiceError | null; res: T | undefined };

let server: RunningServer;
let addr: string;
let raw: grpc.Client;
let sdk: GrpcClient;

before(async () => {
  server = await startTestServer(undefined, EXPLICIT);
  addr = `127.0.0.1:${server.grpc!.port}`;
  raw = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  sdk = new GrpcClient(addr);
});
after(async () => {
  raw.close();
  await sdk.close();
  await server.stop();
});

// ---------------------------------------------------------------------------------------------- helpers

/** One unary call with a method definition; resolves with the error or the decoded response. */
function unaryOutcome<T>(
  client: grpc.Client, def: Def, request: unknown, options: grpc.CallOptions = {},
  onCall?: (call: grpc.ClientUnaryCall) => void,
): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const call = client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, new grpc.Metadata(), options,
      (err, res) => resolve({ err: err ?? null, res: res as T | undefined }));
    onCall?.(call);
  });
}

async function unaryOk<T>(client: grpc.Client, def: Def, request: unknown, options: grpc.CallOptions = {}): Promise<T> {
  const { err, res } = await unaryOutcome<T>(client, def, request, options);
  assert.equal(err, null, `expected success, got ${err?.code} ${err?.details}`);
  return res as T;
}

/** A unary call that must fail with `code`, its details matching every pattern. */
async function unaryFails(client: grpc.Client, def: Def, request: unknown, code: grpc.status, ...patterns: RegExp[]): Promise<grpc.ServiceError> {
  const { err } = await unaryOutcome(client, def, request);
  assert.ok(err, `expected ${grpc.status[code]}, but the call succeeded`);
  assert.equal(err.code, code, `${grpc.status[code]} expected, got ${grpc.status[err.code]}: ${err.details}`);
  for (const re of patterns) assert.match(err.details, re);
  return err;
}

/** A method definition that sends and receives bytes as they are (for garbage on the wire). */
const rawDef = (path: string): Def => ({
  path, requestStream: false, responseStream: false,
  requestSerialize: (b: unknown) => b as Buffer, requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: unknown) => b as Buffer, responseDeserialize: (b: Buffer) => b,
});

async function assertStillServing(client: grpc.Client = raw): Promise<void> {
  const live = await unaryOk<inference.ServerLiveResponse>(client, INFERENCE_SERVICE.ServerLive, {});
  assert.equal(live.live, true);
  const r = await unaryOk<inference.ModelInferResponse>(client, INFERENCE_SERVICE.ModelInfer, myModelRequest(Float32Array.from({ length: 128 }, () => 2)));
  assert.equal(f32(r.raw_output_contents[0])[0], 256);
}

/** A fresh, aligned copy of some bytes (decoded protobuf bytes sit at odd offsets in shared buffers). */
const own = (u: Uint8Array) => new Uint8Array(u).buffer;
const f32 = (u: Uint8Array) => new Float32Array(own(u));
const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function myModelRequest(x: Float32Array): inference.ModelInferRequest.$Properties {
  return {
    model_name: 'my_model',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, x.length] }],
    raw_input_contents: [bytesOf(x)],
  };
}

/** A gRPC length-prefixed message (flag byte, 4-byte big-endian length, payload). */
function grpcFrame(payload: Uint8Array, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(payload.byteLength, 1);
  return Buffer.concat([head, payload]);
}

interface RawResponse { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }

/** One request over raw node:http2 on a fresh connection (or `session` when given). */
function http2Request(port: number, headers: http2.OutgoingHttpHeaders, body: Buffer, session?: http2.ClientHttp2Session): Promise<RawResponse> {
  const s = session ?? http2.connect(`http://127.0.0.1:${port}`);
  return new Promise<RawResponse>((resolve, reject) => {
    const req = s.request(headers);
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => { head = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ headers: head, trailers, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end(body);
  }).finally(() => {
    if (!session) s.close();
  });
}

/** The grpc-status of a raw response: in the trailers, or in the headers of a trailers-only response. */
const grpcStatusOf = (r: RawResponse) => Number(r.trailers['grpc-status'] ?? r.headers['grpc-status']);

/** Messages of a gRPC response body (uncompressed). */
function unframe(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < body.length;) {
    assert.equal(body[o], 0, 'response message is not compressed');
    const n = body.readUInt32BE(o + 1);
    out.push(body.subarray(o + 5, o + 5 + n));
    o += 5 + n;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ health

describe('grpc.health.v1.Health', () => {
  const check = (service: string, client: grpc.Client = raw) =>
    unaryOutcome<g.health.v1.HealthCheckResponse>(client, HEALTH_SERVICE.Check, { service });
  const SERVER_NAMES = ['', 'inference.GRPCInferenceService', 'Predictor'];

  /** Check each name on `client`; every answer must be OK with `want`. */
  async function expectStatus(client: grpc.Client, names: string[], want: number, where: string) {
    for (const service of names) {
      const { err, res } = await check(service, client);
      assert.equal(err, null, `${where} ${JSON.stringify(service)}: ${err?.details}`);
      assert.equal(res!.status, want, `${where}: status of ${JSON.stringify(service)}`);
    }
  }

  test('Check: "" and the inference service agree with ServerReady', async () => {
    const ready = await unaryOk<inference.ServerReadyResponse>(raw, INFERENCE_SERVICE.ServerReady, {});
    await expectStatus(raw, SERVER_NAMES, ready.ready ? Serving.SERVING : Serving.NOT_SERVING, 'example repository');
  });

  test('Check: "" and the inference service -> SERVING on a clean repository, NOT_SERVING when a model failed to load', async () => {
    const clean = await scratchRepo(['identity_int32']);
    const broken = await scratchRepo(['identity_int32']);
    await mkdir(join(broken.dir, 'broken', '1'), { recursive: true }); // no model file: its load fails
    const servers: RunningServer[] = [];
    const clients: grpc.Client[] = [];
    try {
      for (const repo of [clean, broken]) {
        const s = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, metricsPort: 0, grpcPort: 0 });
        servers.push(s);
        clients.push(new grpc.Client(`127.0.0.1:${s.grpc!.port}`, grpc.credentials.createInsecure()));
      }
      const [okClient, brokenClient] = clients;
      await expectStatus(okClient, [...SERVER_NAMES, 'identity_int32'], Serving.SERVING, 'clean repository');
      // Strict readiness (the default): one failed model makes the server not ready, and the health service says so.
      await expectStatus(brokenClient, SERVER_NAMES, Serving.NOT_SERVING, 'repository with a broken model');
      await expectStatus(brokenClient, ['identity_int32'], Serving.SERVING, 'repository with a broken model');
      await expectStatus(brokenClient, ['broken'], Serving.NOT_SERVING, 'the broken model itself');
    } finally {
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.stop()));
      await clean.cleanup();
      await broken.cleanup();
    }
  });

  test('Check: a loaded model -> SERVING; an unknown name -> NOT_FOUND naming it', async () => {
    const { err, res } = await check('my_model');
    assert.equal(err, null);
    assert.equal(res!.status, Serving.SERVING);
    await unaryFails(raw, HEALTH_SERVICE.Check, { service: 'no_such_model' }, grpc.status.NOT_FOUND, /no_such_model/);
  });

  test('Check: malformed request bytes -> INVALID_ARGUMENT', async () => {
    await unaryFails(raw, rawDef(HEALTH_SERVICE.Check.path), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), grpc.status.INVALID_ARGUMENT, /malformed/);
  });

  test('Watch: SERVING, NOT_SERVING after unload, SERVING after load, then a clean cancel', async () => {
    const model = 'identity_int8';
    const listenersBefore = server.models.listenerCount('change');
    const def = HEALTH_SERVICE.Watch;
    const stream = raw.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, { service: model }, new grpc.Metadata(), {});
    const seen: number[] = [];
    const waiters: (() => void)[] = [];
    stream.on('data', (m: g.health.v1.HealthCheckResponse) => {
      seen.push(m.status);
      for (const w of waiters.splice(0)) w();
    });
    const ended = new Promise<grpc.ServiceError | null>((resolve) => {
      stream.on('error', (e: grpc.ServiceError) => resolve(e));
      stream.on('end', () => resolve(null));
    });
    /** Wait until the stream has delivered `status` as its latest message. */
    const waitFor = async (status: number, what: string) => {
      const deadline = Date.now() + 10_000;
      while (seen.at(-1) !== status) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}; stream delivered ${JSON.stringify(seen)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    };

    await waitFor(Serving.SERVING, 'the first SERVING');
    assert.equal(seen[0], Serving.SERVING, 'first message');

    await sdk.unloadModel(model);
    await waitFor(Serving.NOT_SERVING, 'NOT_SERVING after unload');
    // A Check agrees: the model is known but not serving (not NOT_FOUND).
    const c = await check(model);
    assert.equal(c.err, null);
    assert.equal(c.res!.status, Serving.NOT_SERVING);

    await sdk.loadModel(model);
    await waitFor(Serving.SERVING, 'SERVING after load');
    // Consecutive duplicates are never sent.
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `duplicate status in ${JSON.stringify(seen)}`);
    assert.deepEqual([...new Set(seen)].sort(), [Serving.SERVING, Serving.NOT_SERVING].sort());

    stream.cancel();
    const end = await ended;
    assert.equal(end?.code, grpc.status.CANCELLED);
    // The server drops its state-change listener once the watcher is gone.
    const deadline = Date.now() + 5_000;
    while (server.models.listenerCount('change') > listenersBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.models.listenerCount('change'), listenersBefore, 'Watch listener leaked after cancel');
    await assertStillServing();
  });

  test('Watch: an unknown name answers SERVICE_UNKNOWN (and keeps watching)', async () => {
    const def = HEALTH_SERVICE.Watch;
    const stream = raw.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, { service: 'no_such_model' }, new grpc.Metadata(), {});
    const first = await new Promise<g.health.v1.HealthCheckResponse>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
    assert.equal(first.status, Serving.SERVICE_UNKNOWN);
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    stream.cancel();
    assert.equal((await ended).code, grpc.status.CANCELLED);
  });
});

// -------------------------------------------------------------------------------------------- reflection

const require = createRequire(import.meta.url);
const descriptor = require('protobufjs/ext/descriptor') as {
  FileDescriptorProto: { decode(b: Uint8Array): FileDescriptor };
};
interface FileDescriptor {
  name: string;
  package?: string;
  dependency?: string[];
  service?: { name: string; method?: { name: string; inputType?: string; outputType?: string; serverStreaming?: boolean; clientStreaming?: boolean }[] }[];
  messageType?: { name: string }[];
}

/** Send each request on one ServerReflectionInfo stream and collect the answers. */
const reflect = (version: 'v1' | 'v1alpha', requests: object[]) => reflectAt(addr, version, requests);
const listServicesOf = (version: 'v1' | 'v1alpha') => listServices(addr, version);

describe('server reflection', () => {
  for (const version of ['v1', 'v1alpha'] as const) {
    test(`${version}: list_services names every service`, async () => {
      const [r] = await reflect(version, [{ list_services: '' }]);
      assert.equal(r.message_response, 'list_services_response', JSON.stringify(r));
      const names = r.list_services_response!.service!.map((s) => s.name);
      for (const want of ['inference.GRPCInferenceService', 'Predictor', 'grpc.health.v1.Health', 'duet.Generator',
        'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']) {
        assert.ok(names.includes(want), `${want} missing from ${JSON.stringify(names)}`);
      }
    });

    test(`${version}: file_containing_symbol returns the descriptors of the inference service`, async () => {
      const [r, missing] = await reflect(version, [
        { file_containing_symbol: 'inference.GRPCInferenceService' },
        { file_containing_symbol: 'no.such.Symbol' },
      ]);
      assert.equal(r.message_response, 'file_descriptor_response', JSON.stringify(r));
      const files = r.file_descriptor_response!.file_descriptor_proto!.map((b) => descriptor.FileDescriptorProto.decode(b));
      const svcFile = files.find((f) => f.service?.some((s) => s.name === 'GRPCInferenceService'));
      assert.ok(svcFile, `no file defines GRPCInferenceService: ${files.map((f) => f.name).join(', ')}`);
      assert.equal(svcFile.package, 'inference');
      const methods = svcFile.service!.find((s) => s.name === 'GRPCInferenceService')!.method ?? [];
      const infer = methods.find((m) => m.name === 'ModelInfer');
      assert.ok(infer, `ModelInfer missing: ${methods.map((m) => m.name).join(', ')}`);
      assert.equal(infer.inputType, '.inference.ModelInferRequest');
      const stream = methods.find((m) => m.name === 'ModelStreamInfer');
      assert.ok(stream?.clientStreaming && stream.serverStreaming, 'ModelStreamInfer is bidi');
      // Its dependency (the model config) travels with it, so a reflection client can resolve every type.
      assert.ok(files.some((f) => f.messageType?.some((m) => m.name === 'ModelConfig')), 'ModelConfig descriptor missing');

      assert.equal(missing.message_response, 'error_response', JSON.stringify(missing));
      assert.equal(missing.error_response!.error_code, grpc.status.NOT_FOUND);
    });

    test(`${version}: a malformed request message ends the stream with INVALID_ARGUMENT; the server goes on`, async () => {
      const r = await http2Request(server.grpc!.port, {
        ':method': 'POST', ':path': `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`, 'content-type': 'application/grpc', te: 'trailers',
      }, grpcFrame(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
      assert.equal(grpcStatusOf(r), grpc.status.INVALID_ARGUMENT);
      assert.match(decodeURIComponent(String(r.trailers['grpc-message'] ?? r.headers['grpc-message'])), /malformed ServerReflectionInfo request/);
      assert.ok((await listServicesOf(version)).includes('inference.GRPCInferenceService'), 'reflection still answers');
    });

    test(`${version}: the package-less Predictor resolves by its plain name`, async () => {
      const [svc, msg] = await reflect(version, [{ file_containing_symbol: 'Predictor' }, { file_containing_symbol: 'PredictRequest' }]);
      for (const r of [svc, msg]) {
        assert.equal(r.message_response, 'file_descriptor_response', JSON.stringify(r));
        const files = r.file_descriptor_response!.file_descriptor_proto!.map((b) => descriptor.FileDescriptorProto.decode(b));
        const f = files.find((x) => x.service?.some((s) => s.name === 'Predictor'));
        assert.ok(f, `no file defines Predictor: ${files.map((x) => x.name).join(', ')}`);
        assert.ok(!f.package, `Predictor has no package (the call path is /Predictor/Predict), got '${f.package}'`);
        assert.deepEqual(f.service![0].method!.map((m) => m.name), ['Predict']);
      }
    });
  }
});

// --------------------------------------------------------------------------- malformed and unknown calls

describe('malformed requests and unknown calls', () => {
  const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);

  test('malformed ModelInfer bytes -> INVALID_ARGUMENT saying malformed; the server goes on', async () => {
    await unaryFails(raw, rawDef(INFERENCE_SERVICE.ModelInfer.path), garbage, grpc.status.INVALID_ARGUMENT, /malformed/i, /ModelInfer/);
    // A lone tag (field 1, with its value cut off) is malformed too.
    await unaryFails(raw, rawDef(INFERENCE_SERVICE.ModelInfer.path), Buffer.from([0x0b]), grpc.status.INVALID_ARGUMENT, /malformed/i);
    await unaryFails(raw, rawDef(PREDICTOR_SERVICE.Predict.path), garbage, grpc.status.INVALID_ARGUMENT, /malformed/i);
    await assertStillServing();
  });

  test('an unknown method or service -> UNIMPLEMENTED', async () => {
    await unaryFails(raw, rawDef('/inference.GRPCInferenceService/NoSuchMethod'), Buffer.alloc(0), grpc.status.UNIMPLEMENTED);
    await unaryFails(raw, rawDef('/no.such.Service/ServerLive'), Buffer.alloc(0), grpc.status.UNIMPLEMENTED);
    await assertStillServing();
  });

  test('a non-gRPC content-type gets HTTP 415 and the connection and server go on', async () => {
    const port = server.grpc!.port;
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const headers = { ':method': 'POST', ':path': '/inference.GRPCInferenceService/ServerLive', 'content-type': 'application/json' };
      const r = await http2Request(port, headers, Buffer.from('{}'), session);
      assert.equal(r.headers[':status'], 415);
      // The same connection still carries a proper gRPC call.
      const ok = await http2Request(port, {
        ':method': 'POST', ':path': '/inference.GRPCInferenceService/ServerLive', 'content-type': 'application/grpc', te: 'trailers',
      }, grpcFrame(new Uint8Array(0)), session);
      assert.equal(ok.headers[':status'], 200);
      assert.equal(grpcStatusOf(ok), 0);
      const [msg] = unframe(ok.body);
      assert.equal(inference.ServerLiveResponse.decode(msg).live, true);
    } finally {
      session.close();
    }
    await assertStillServing();
  });

  test('calls not built yet -> UNIMPLEMENTED with a message', async () => {
    for (const method of ['SystemSharedMemoryStatus', 'CudaSharedMemoryRegister', 'TraceSetting', 'LogSettings'] as const) {
      let err: unknown;
      try {
        await sdk.call(method, {});
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof InferenceError, `${method} should fail`);
      assert.equal(err.code, 'UNIMPLEMENTED', `${method}: ${err.message}`);
      assert.match(err.message, /not supported/, method);
      await unaryFails(raw, INFERENCE_SERVICE[method], {}, grpc.status.UNIMPLEMENTED, /\w/);
    }
  });
});

// ----------------------------------------------------------------------------------- flow-control windows

/** The SETTINGS and connection window a gRPC server grants a fresh raw HTTP/2 client. */
async function serverWindows(port: number): Promise<{ initialWindowSize: number | undefined; connectionWindow: number | undefined }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve());
      session.once('error', reject);
    });
    // The ping's ACK comes after any SETTINGS and WINDOW_UPDATE the server queued when the session opened.
    await new Promise<void>((resolve, reject) => session.ping((e) => (e ? reject(e) : resolve())));
    return { initialWindowSize: session.remoteSettings.initialWindowSize, connectionWindow: session.state.remoteWindowSize };
  } finally {
    session.close();
  }
}

describe('HTTP/2 flow-control windows', () => {
  test('the default server advertises an 8 MiB stream window and opens the connection window to match', async () => {
    assert.equal(DEFAULT_WINDOW, 8388608);
    const w = await serverWindows(server.grpc!.port);
    assert.equal(w.initialWindowSize, DEFAULT_WINDOW);
    assert.equal(w.connectionWindow, DEFAULT_WINDOW);
  });

  test('grpcWindowBytes sets the window; 65535 keeps the HTTP/2 default', async () => {
    const repo = await scratchRepo([]);
    const servers: RunningServer[] = [];
    try {
      for (const [win, want] of [[1 << 20, 1 << 20], [65535, 65535]] as const) {
        const s = await startServer({ modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, metricsPort: 0, grpcPort: 0, grpcWindowBytes: win });
        servers.push(s);
        const w = await serverWindows(s.grpc!.port);
        assert.equal(w.initialWindowSize, want, `grpcWindowBytes ${win}`);
        assert.equal(w.connectionWindow, want, `grpcWindowBytes ${win}: connection window`);
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await repo.cleanup();
    }
  });
});

// ----------------------------------------------------------------------------------------- message sizes

describe('message size limits', () => {
  test('no 4 MiB wall: a 20 MB FP32 tensor round-trips byte-exactly', async () => {
    const n = 5_000_000;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (i % 65521) * 0.25 - 1000.5;
    x[1] = Number.NaN;
    x[2] = -0;
    x[3] = Infinity;
    const r = await sdk.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n], data: x }]);
    const out = r.output('OUTPUT0');
    assert.deepEqual(out.shape, [1, n]);
    assert.equal(out.data.byteLength, n * 4);
    assert.ok(Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength).equals(bytesOf(x)), 'output bytes differ from input bytes');
  });

  describe('a server with grpcMaxMessageBytes 1 MiB and predictorModel no_such_model', () => {
    let small: RunningServer;
    let repo: Awaited<ReturnType<typeof scratchRepo>>;
    let c: GrpcClient;
    let rc: grpc.Client;
    before(async () => {
      repo = await scratchRepo(['identity_fp32']);
      small = await startServer({
        modelRepository: repo.dir, host: '127.0.0.1', httpPort: 0, metricsPort: 0, grpcPort: 0,
        grpcMaxMessageBytes: 1024 * 1024, predictorModel: 'no_such_model',
      });
      c = new GrpcClient(`127.0.0.1:${small.grpc!.port}`);
      rc = new grpc.Client(`127.0.0.1:${small.grpc!.port}`, grpc.credentials.createInsecure());
    });
    after(async () => {
      rc.close();
      await c.close();
      await small.stop();
      await repo.cleanup();
    });

    test('a 2 MB request -> RESOURCE_EXHAUSTED; a 512 KB one still works', async () => {
      const big = new Float32Array(512 * 1024); // 2 MiB
      let err: unknown;
      try {
        await c.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, big.length], data: big }]);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof InferenceError, `expected RESOURCE_EXHAUSTED, got ${String(err)}`);
      assert.equal(err.code, 'RESOURCE_EXHAUSTED', err.message);
      const ok = Float32Array.from({ length: 128 * 1024 }, (_, i) => i);
      const r = await c.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, ok.length], data: ok }]);
      assert.ok(Buffer.from(r.output('OUTPUT0').data).equals(bytesOf(ok)));
    });

    test('Predictor.Predict on a server whose predictor model does not exist -> NOT_FOUND', async () => {
      await unaryFails(rc, PREDICTOR_SERVICE.Predict, { features: new Array(128).fill(1) }, grpc.status.NOT_FOUND, /no_such_model/);
    });
  });
});

// ------------------------------------------------------------------------------------------- compression

describe('compression', () => {
  const x = Float32Array.from({ length: 128 }, (_, i) => i / 4); // sum = 2032

  test('a client with gzip as its default compression calls ModelInfer', async () => {
    const gz = new grpc.Client(addr, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const r = await unaryOk<inference.ModelInferResponse>(gz, INFERENCE_SERVICE.ModelInfer, myModelRequest(x));
      assert.deepEqual(Array.from(f32(r.raw_output_contents[0])), [2032]);
    } finally {
      gz.close();
    }
  });

  test('a raw gzip-compressed message (grpc-encoding: gzip, flag 1) is decompressed', async () => {
    const msg = inference.ModelInferRequest.encode(myModelRequest(x)).finish();
    const r = await http2Request(server.grpc!.port, {
      ':method': 'POST', ':path': INFERENCE_SERVICE.ModelInfer.path, 'content-type': 'application/grpc', te: 'trailers',
      'grpc-encoding': 'gzip', 'grpc-accept-encoding': 'identity',
    }, grpcFrame(gzipSync(msg), true));
    assert.equal(grpcStatusOf(r), 0, String(r.trailers['grpc-message'] ?? r.headers['grpc-message']));
    const [body] = unframe(r.body);
    const res = inference.ModelInferResponse.decode(body);
    assert.deepEqual(Array.from(f32(res.raw_output_contents[0])), [2032]);
  });
});

// ------------------------------------------------------------------------------------ ModelInfer contents

describe('ModelInfer with typed contents', () => {
  const infer = (req: inference.ModelInferRequest.$Properties) => unaryOk<inference.ModelInferResponse>(raw, INFERENCE_SERVICE.ModelInfer, req);

  test('fp32_contents', async () => {
    const vals = Array.from({ length: 128 }, (_, i) => i - 60); // sum = 448
    const r = await infer({ model_name: 'my_model', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], contents: { fp32_contents: vals } }] });
    assert.deepEqual(Array.from(f32(r.raw_output_contents[0])), [448]);
    assert.equal(r.outputs[0].name, 'OUTPUT0');
  });

  test('int_contents (two inputs, in order)', async () => {
    const a = Array.from({ length: 16 }, (_, i) => i * 10);
    const b = Array.from({ length: 16 }, (_, i) => i);
    const r = await infer({
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
      ],
    });
    const i32 = (u: Uint8Array) => Array.from(new Int32Array(own(u)));
    assert.deepEqual(r.outputs.map((o) => o.name), ['OUTPUT0', 'OUTPUT1']);
    assert.deepEqual(i32(r.raw_output_contents[0]), a.map((v, i) => v + b[i]));
    assert.deepEqual(i32(r.raw_output_contents[1]), a.map((v, i) => v - b[i]));
  });

  test('bytes_contents: length-prefixed raw output, NUL and non-UTF-8 bytes intact', async () => {
    const els = [Buffer.from('héllo'), Buffer.from([0, 0xff, 0xfe]), Buffer.alloc(0)];
    const r = await infer({ model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 3], contents: { bytes_contents: els } }] });
    const expected = Buffer.concat(els.flatMap((e) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(e.length);
      return [len, e];
    }));
    assert.ok(Buffer.from(r.raw_output_contents[0]).equals(expected), Buffer.from(r.raw_output_contents[0]).toString('hex'));
  });

  test('bool_contents', async () => {
    const r = await infer({ model_name: 'identity_bool', inputs: [{ name: 'INPUT0', datatype: 'BOOL', shape: [1, 4], contents: { bool_contents: [true, false, false, true] } }] });
    assert.deepEqual(Array.from(r.raw_output_contents[0]), [1, 0, 0, 1]);
  });

  test('int64_contents and uint64_contents beyond 2^53 stay exact', async () => {
    const ints = ['9007199254740993', '-9223372036854775808', '9223372036854775807', '-1'];
    const r = await infer({
      model_name: 'identity_int64',
      inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, ints.length], contents: { int64_contents: ints.map((s) => Long.fromString(s)) } }],
    });
    const out = new BigInt64Array(own(r.raw_output_contents[0]));
    assert.deepEqual(Array.from(out, String), ints);

    const uints = ['18446744073709551615', '9007199254740993', '0'];
    const ru = await infer({
      model_name: 'identity_uint64',
      inputs: [{ name: 'INPUT0', datatype: 'UINT64', shape: [1, uints.length], contents: { uint64_contents: uints.map((s) => Long.fromString(s, true)) } }],
    });
    const outU = new BigUint64Array(own(ru.raw_output_contents[0]));
    assert.deepEqual(Array.from(outU, String), uints);
  });

  test('raw_input_contents count not matching the inputs -> INVALID_ARGUMENT', async () => {
    const sixteen = bytesOf(new Int32Array(16));
    await unaryFails(raw, INFERENCE_SERVICE.ModelInfer, {
      model_name: 'simple',
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
      raw_input_contents: [sixteen],
    }, grpc.status.INVALID_ARGUMENT, /raw_input_contents has 1 entries for 2 inputs/, /simple/);
  });

  test('both typed contents and raw_input_contents -> INVALID_ARGUMENT', async () => {
    await unaryFails(raw, INFERENCE_SERVICE.ModelInfer, {
      model_name: 'my_model',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], contents: { fp32_contents: new Array(128).fill(1) } }],
      raw_input_contents: [bytesOf(new Float32Array(128))],
    }, grpc.status.INVALID_ARGUMENT, /both/, /INPUT0/);
  });

  test('FP16 via contents -> INVALID_ARGUMENT naming raw_input_contents', async () => {
    await unaryFails(raw, INFERENCE_SERVICE.ModelInfer, {
      model_name: 'identity_fp16',
      inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 2], contents: { fp32_contents: [1, 2] } }],
    }, grpc.status.INVALID_ARGUMENT, /raw_input_contents/, /FP16/);
  });

  test('the wrong typed field for the datatype (int_contents for FP32) -> INVALID_ARGUMENT', async () => {
    await unaryFails(raw, INFERENCE_SERVICE.ModelInfer, {
      model_name: 'my_model',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 128], contents: { int_contents: new Array(128).fill(1) } }],
    }, grpc.status.INVALID_ARGUMENT, /INPUT0/);
  });
});

// ------------------------------------------------------------------------------ model calls and Predictor

describe('model calls', () => {
  test('ModelReady for an unknown model -> ready false with status OK', async () => {
    const { err, res } = await unaryOutcome<inference.ModelReadyResponse>(raw, INFERENCE_SERVICE.ModelReady, { name: 'no_such_model' });
    assert.equal(err, null, err?.details);
    assert.equal(res!.ready, false);
    const known = await unaryOk<inference.ModelReadyResponse>(raw, INFERENCE_SERVICE.ModelReady, { name: 'my_model' });
    assert.equal(known.ready, true);
  });

  test('ModelConfig wraps the config in `config`', async () => {
    const r = await unaryOk<inference.ModelConfigResponse>(raw, INFERENCE_SERVICE.ModelConfig, { name: 'simple' });
    assert.ok(r.config, 'ModelConfigResponse.config is unset');
    const cfg = r.config as inference.ModelConfig;
    assert.equal(cfg.name, 'simple');
    assert.equal(cfg.max_batch_size, 8);
    assert.deepEqual(cfg.input.map((i) => i.name), ['INPUT0', 'INPUT1']);
    assert.deepEqual((cfg.input[0].dims ?? []).map((d) => toNumber(d as number)), [16]);
    // On the wire the response is exactly one field: 1 (config), length-delimited, holding the whole config.
    const req = Buffer.from(inference.ModelConfigRequest.encode({ name: 'simple' }).finish());
    const bytes = await unaryOk<Buffer>(raw, rawDef(INFERENCE_SERVICE.ModelConfig.path), req);
    assert.equal(bytes[0], 0x0a, 'first tag is field 1, length-delimited');
    let o = 1;
    while (bytes[o] & 0x80) o++; // skip the length varint
    const inner = inference.ModelConfig.decode(bytes.subarray(o + 1));
    assert.equal(inner.max_batch_size, 8);
  });

  test('Predictor.Predict: 128 features -> score = their sum', async () => {
    const features = Array.from({ length: 128 }, (_, i) => i); // sum = 8128
    const r = await unaryOk<{ score: number }>(raw, PREDICTOR_SERVICE.Predict, { features });
    assert.equal(r.score, 8128);
    const r2 = await unaryOk<{ score: number }>(raw, PREDICTOR_SERVICE.Predict, { features: features.map((v) => -v / 2) });
    assert.equal(r2.score, -4064);
  });
});

// ---------------------------------------------------------------------------- cancellation and deadlines

describe('cancellation and deadlines', () => {
  const n = 2_000_000; // 8 MB: long enough in flight to cancel mid-way
  const big = Float32Array.from({ length: n }, (_, i) => i % 1000);
  const bigRequest = () => ({
    model_name: 'identity_fp32', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n] }], raw_input_contents: [bytesOf(big)],
  });

  test('calls cancelled in flight end CANCELLED and the server goes on', async () => {
    const delays = [0, 0, 1, 2, 5, 10, 20, 40];
    const outcomes = await Promise.all(delays.map((ms) =>
      unaryOutcome<inference.ModelInferResponse>(raw, INFERENCE_SERVICE.ModelInfer, bigRequest(), {}, (call) => {
        if (ms === 0) call.cancel();
        else setTimeout(() => call.cancel(), ms);
      })));
    let cancelled = 0;
    for (const [i, o] of outcomes.entries()) {
      if (o.err) {
        assert.equal(o.err.code, grpc.status.CANCELLED, `call ${i}: ${o.err.details}`);
        cancelled++;
      } else {
        // A call that finished before its cancel must be whole.
        assert.ok(Buffer.from(o.res!.raw_output_contents[0]).equals(bytesOf(big)), `call ${i} returned wrong bytes`);
      }
    }
    assert.ok(cancelled >= 2, `only ${cancelled} calls were cancelled`);
    // The SDK's AbortSignal path cancels too.
    const ac = new AbortController();
    const p = sdk.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n], data: big }], { signal: ac.signal });
    setTimeout(() => ac.abort(), 1);
    await assert.rejects(p, (e: unknown) => e instanceof InferenceError && e.code === 'CANCELLED');
    // A follow-up big call is answered in full.
    const r = await unaryOk<inference.ModelInferResponse>(raw, INFERENCE_SERVICE.ModelInfer, bigRequest());
    assert.ok(Buffer.from(r.raw_output_contents[0]).equals(bytesOf(big)));
    await assertStillServing();
  });

  test('an already-expired deadline -> DEADLINE_EXCEEDED; a too-short one too; the server goes on', async () => {
    const expired = await unaryOutcome(raw, INFERENCE_SERVICE.ModelInfer, myModelRequest(new Float32Array(128)), { deadline: Date.now() - 1000 });
    assert.equal(expired.err?.code, grpc.status.DEADLINE_EXCEEDED);
    const short = await unaryOutcome(raw, INFERENCE_SERVICE.ModelInfer, bigRequest(), { deadline: Date.now() + 2 });
    assert.equal(short.err?.code, grpc.status.DEADLINE_EXCEEDED, short.err?.details);
    const sdkShort = new GrpcClient(addr, { timeoutMs: 1 });
    try {
      await assert.rejects(sdkShort.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n], data: big }]),
        (e: unknown) => e instanceof InferenceError && e.code === 'DEADLINE_EXCEEDED');
    } finally {
      await sdkShort.close();
    }
    await assertStillServing();
  });
});
