// gRPC-Web on the wire: malformed bodies answer clear statuses (never a crash or a hang), CORS for
// browsers, the API key as on gRPC, and the same transport on the gRPC port (HTTP/2).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import type { FileRegistry } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { baseUrl, scratchRepo, startTestServer } from './harness.js';
import { writeTestModels } from './fixtures/streaming-models.js';
import type { RunningServer } from '../src/server.js';
import { duetRegistry, encode, frame, messageType, parseFrames, rawCall, trailerOf } from './grpc-web-fixture.js';

const LIVE = '/inference.GRPCInferenceService/ServerLive';
const META = '/inference.GRPCInferenceService/ModelMetadata';
const STREAM = '/inference.GRPCInferenceService/ModelStreamInfer';
const I = { OK: 0, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 };
const i32le = (...v: number[]) => new Uint8Array(Int32Array.from(v).buffer);

describe('gRPC-Web malformed bodies', () => {
  let server: RunningServer;
  let reg: FileRegistry;
  let meta: Buffer;
  const url = (p: string) => `${baseUrl(server)}${p}`;
  before(async () => {
    reg = duetRegistry();
    meta = Buffer.from(encode(messageType(reg, 'inference.ModelMetadataRequest'), { name: 'simple' }));
    server = await startTestServer(undefined, { grpcMaxMessageBytes: 4096 });
  });
  after(() => server?.stop());

  const cases: [string, string, () => Uint8Array | string, Record<string, string>, number, RegExp][] = [
    ['a truncated frame', META, () => frame(meta).subarray(0, 9), {}, I.INVALID_ARGUMENT, /ended inside a message \(4 of \d+ bytes\)/],
    ['a cut frame header', META, () => Buffer.from([0, 0, 0]), {}, I.INVALID_ARGUMENT, /inside a message header/],
    ['a length over the limit', META, () => frame(Buffer.alloc(10), 0, 1_000_000), {}, I.RESOURCE_EXHAUSTED, /1000000 bytes exceeds the limit of 4096/],
    ['bad base64', META, () => 'AAAA!!!!', { 'content-type': 'application/grpc-web-text' }, I.INVALID_ARGUMENT, /not base64: it holds '!'/],
    ['base64 cut inside a group', META, () => Buffer.from(frame(meta)).toString('base64') + 'QQ', { 'content-type': 'application/grpc-web-text' }, I.INVALID_ARGUMENT, /inside a base64 group/],
    ['a bad frame flag', META, () => frame(meta, 2), {}, I.INVALID_ARGUMENT, /bad message frame flag 2/],
    ['a compressed flag without grpc-encoding', META, () => frame(meta, 1), {}, I.INVALID_ARGUMENT, /marked compressed but grpc-encoding is identity/],
    ['an unknown grpc-encoding', META, () => frame(meta, 1), { 'grpc-encoding': 'snappy' }, I.UNIMPLEMENTED, /'snappy' is not supported/],
    ['garbage said to be gzip', META, () => frame(Buffer.from('not gzip'), 1), { 'grpc-encoding': 'gzip' }, I.INVALID_ARGUMENT, /not valid gzip/],
    ['a trailer frame from the client', META, () => Buffer.concat([frame(meta), frame(Buffer.from('grpc-status:0\r\n'), 0x80)]), {}, I.INVALID_ARGUMENT, /trailer frame/],
    ['an empty body for a unary method', META, () => Buffer.alloc(0), {}, I.INVALID_ARGUMENT, /needs one request message, got none/],
    ['two messages for a unary method', META, () => Buffer.concat([frame(meta), frame(meta)]), {}, I.INVALID_ARGUMENT, /takes one request message, got more/],
    ['a message that is not protobuf', META, () => frame(Buffer.from([0xff, 0xff, 0xff])), {}, I.INVALID_ARGUMENT, /malformed ModelMetadata request/],
    ['an unknown method', '/inference.GRPCInferenceService/NoSuch', () => frame(meta), {}, I.UNIMPLEMENTED, /unknown method/],
  ];
  for (const [what, path, body, headers, code, message] of cases) {
    test(`${what}: status ${code}`, async () => {
      const r = await rawCall(url(path), body(), headers);
      assert.equal(r.res.status, 200);
      assert.equal(r.status, code, r.message);
      assert.match(r.message, message);
    });
  }

  test('gzip-compressed requests are accepted', async () => {
    const r = await rawCall(url(META), frame(gzipSync(meta), 1), { 'grpc-encoding': 'gzip' });
    assert.equal(r.status, I.OK, r.message);
    assert.equal(r.frames.filter((f) => f.flag === 0).length, 1);
  });

  test('ModelStreamInfer with two requests is refused, naming the alternative', async () => {
    const req = encode(messageType(reg, 'inference.ModelInferRequest'), { modelName: 'simple' });
    const r = await rawCall(url(STREAM), Buffer.concat([frame(req), frame(req)]));
    assert.equal(r.status, I.UNIMPLEMENTED);
    assert.match(r.message, /one request message per call.*served as a server stream/);
  });

  test('reflection with two requests in one call is refused the same way', async () => {
    const req = encode(messageType(reg, 'grpc.reflection.v1.ServerReflectionRequest'), { messageRequest: { case: 'listServices', value: '' } });
    const r = await rawCall(url('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'), Buffer.concat([frame(req), frame(req)]));
    assert.equal(r.status, I.UNIMPLEMENTED);
    assert.match(r.message, /ServerReflectionInfo over gRPC-Web takes one request message per call/);
  });

  test('grpc-timeout ends a call past its deadline', async () => {
    const req = encode(messageType(reg, 'inference.ModelInferRequest'), {
      modelName: 'repeat_int32',
      inputs: [{ name: 'IN', datatype: 'INT32', shape: [1n] }, { name: 'DELAY', datatype: 'UINT32', shape: [1n] }, { name: 'WAIT', datatype: 'UINT32', shape: [1n] }],
      rawInputContents: [i32le(1), i32le(20_000), i32le(0)],
    });
    const t0 = Date.now();
    const r = await rawCall(url(STREAM), frame(req), { 'grpc-timeout': '200m' });
    assert.equal(r.status, I.DEADLINE_EXCEEDED, r.message);
    // Well before the model's 20 s answer, however loaded the machine.
    assert.ok(Date.now() - t0 < 15_000);
  });

  test('a content type this server does not speak is HTTP 415 naming the ones it does', async () => {
    const res = await fetch(url(META), { method: 'POST', headers: { 'content-type': 'application/grpc-web+json' }, body: '{}' });
    assert.equal(res.status, 415);
    assert.match(await res.text(), /application\/grpc-web-text/);
  });

  test('after all that, the server still answers', async () => {
    const r = await rawCall(url(LIVE), frame(new Uint8Array(0)));
    assert.equal(r.status, I.OK);
  });

  test('metrics count gRPC-Web calls under protocol grpc-web, not grpc', async () => {
    assert.equal((await rawCall(url(LIVE), frame(new Uint8Array(0)))).status, I.OK);
    assert.equal((await rawCall(url(META), Buffer.alloc(0))).status, I.INVALID_ARGUMENT);
    const text = await (await fetch(`http://127.0.0.1:${server.metrics!.port}/metrics`)).text();
    const series = (name: string) => [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))]
      .map((m) => ({ labels: Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]])), value: Number(m[2]) }));
    const count = (method: string, code: string) => series('duet_requests_total')
      .find((s) => s.labels.protocol === 'grpc-web' && s.labels.method === method && s.labels.code === code)?.value ?? 0;
    assert.ok(count('ServerLive', 'OK') >= 1);
    assert.ok(count('ModelMetadata', 'INVALID_ARGUMENT') >= 1);
    // Every call in this block is gRPC-Web.
    assert.deepEqual(series('duet_requests_total').filter((s) => s.labels.protocol === 'grpc'), []);
    assert.ok(series('duet_request_duration_seconds_bucket').some((s) => s.labels.protocol === 'grpc-web' && s.labels.le === '+Inf' && s.value > 0));
  });
});

describe('gRPC-Web CORS and API key', () => {
  const ORIGIN = 'https://app.example';
  let server: RunningServer;
  const url = (p: string) => `${baseUrl(server)}${p}`;
  const KEY = { authorization: 'Bearer sekret' };
  before(async () => {
    server = await startTestServer(undefined, {
      corsAllowOrigins: [ORIGIN], apiKey: 'sekret',
      grpcRestrictedProtocols: { 'model-config': { header: 'triton-grpc-protocol-admin', value: 'ops' } },
    });
  });
  after(() => server?.stop());

  test('a preflight for a gRPC-Web path allows the headers gRPC-Web clients send', async () => {
    const res = await fetch(url(META), {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent,grpc-timeout,authorization' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
    const allowed = res.headers.get('access-control-allow-headers')!.split(/,\s*/);
    for (const h of ['content-type', 'x-grpc-web', 'x-user-agent', 'grpc-timeout', 'authorization', 'triton-grpc-protocol-admin']) assert.ok(allowed.includes(h), h);
    assert.match(res.headers.get('access-control-allow-methods')!, /POST/);
  });

  test('a preflight from an origin not allowed is refused', async () => {
    const res = await fetch(url(META), { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('an allowed origin gets its answer with the gRPC headers exposed', async () => {
    const r = await rawCall(url(LIVE), frame(new Uint8Array(0)), { origin: ORIGIN });
    assert.equal(r.status, I.OK);
    assert.equal(r.res.headers.get('access-control-allow-origin'), ORIGIN);
    const exposed = r.res.headers.get('access-control-expose-headers')!.split(/,\s*/);
    for (const h of ['grpc-status', 'grpc-message', 'grpc-status-details-bin']) assert.ok(exposed.includes(h), h);
  });

  test('an origin not allowed is refused before its body is read', async () => {
    // The body is announced but never sent: the answer must come anyway.
    const answer = await new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.request(url(META), { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/grpc-web+proto', 'content-length': '1000', ...KEY } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, headers: res.headers });
      });
      req.on('error', reject);
      req.write(Buffer.alloc(10));
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['grpc-status'], String(I.PERMISSION_DENIED));
    assert.match(decodeURIComponent(String(answer.headers['grpc-message'])), /--cors-allow-origin https:\/\/evil.example/);
  });

  test('the API key is required as on gRPC; ServerLive stays open', async () => {
    const reg = duetRegistry();
    const body = frame(encode(messageType(reg, 'inference.ModelMetadataRequest'), { name: 'simple' }));
    const none = await rawCall(url(META), body);
    assert.equal(none.status, I.UNAUTHENTICATED);
    assert.ok(none.trailersOnly);
    const wrong = await rawCall(url(META), body, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, I.UNAUTHENTICATED);
    const ok = await rawCall(url(META), body, KEY);
    assert.equal(ok.status, I.OK, ok.message);
    const live = await rawCall(url(LIVE), frame(new Uint8Array(0)));
    assert.equal(live.status, I.OK);
  });

  test('--grpc-restricted-protocol applies with gRPC\'s metadata key', async () => {
    const body = frame(encode(messageType(duetRegistry(), 'inference.ModelConfigRequest'), { name: 'simple' }));
    const denied = await rawCall(url('/inference.GRPCInferenceService/ModelConfig'), body, KEY);
    assert.equal(denied.status, I.PERMISSION_DENIED);
    assert.match(denied.message, /expecting header 'triton-grpc-protocol-admin'/);
    const ok = await rawCall(url('/inference.GRPCInferenceService/ModelConfig'), body, { ...KEY, 'triton-grpc-protocol-admin': 'ops' });
    assert.equal(ok.status, I.OK, ok.message);
  });
});

describe('gRPC-Web on the gRPC port (HTTP/2)', () => {
  let server: RunningServer;
  let reg: FileRegistry;
  before(async () => {
    reg = duetRegistry();
    server = await startTestServer();
  });
  after(() => server?.stop());

  async function h2Call(path: string, body: Uint8Array | string, contentType: string) {
    const session = http2.connect(`http://127.0.0.1:${server.grpc!.port}`);
    try {
      return await new Promise<{ headers: http2.IncomingHttpHeaders; raw: Buffer; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
        const s = session.request({ ':method': 'POST', ':path': path, 'content-type': contentType, 'x-grpc-web': '1' });
        let headers: http2.IncomingHttpHeaders = {};
        let trailers: http2.IncomingHttpHeaders = {};
        const parts: Buffer[] = [];
        s.on('response', (h) => { headers = h; });
        s.on('trailers', (t) => { trailers = t; });
        s.on('data', (c: Buffer) => parts.push(c));
        s.on('end', () => resolve({ headers, raw: Buffer.concat(parts), trailers }));
        s.on('error', reject);
        s.end(body);
      });
    } finally {
      session.close();
    }
  }

  for (const [mode, contentType] of [['binary', 'application/grpc-web+proto'], ['text', 'application/grpc-web-text']] as const) {
    test(`ModelMetadata in ${mode} mode: frames and a trailer frame, no HTTP/2 trailers`, async () => {
      const req = frame(encode(messageType(reg, 'inference.ModelMetadataRequest'), { name: 'simple' }));
      const r = await h2Call(META, mode === 'text' ? req.toString('base64') : req, contentType);
      assert.equal(r.headers[':status'], 200);
      assert.equal(r.headers['content-type'], mode === 'text' ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto');
      assert.equal(r.trailers['grpc-status'], undefined);
      const frames = parseFrames(r.raw, mode === 'text');
      assert.equal(trailerOf(frames)['grpc-status'], '0');
      const meta = (await import('@bufbuild/protobuf')).fromBinary(messageType(reg, 'inference.ModelMetadataResponse'), frames[0].data) as unknown as { name: string };
      assert.equal(meta.name, 'simple');
    });
  }

  test('HTTP/1.1 on the plaintext gRPC port: connect-web and text mode work, other requests are told what the port takes', async () => {
    const base = `http://127.0.0.1:${server.grpc!.port}`;
    const client = createClient(reg.getService('inference.GRPCInferenceService')!, createGrpcWebTransport({ baseUrl: base })) as unknown as Record<string, (r: object) => Promise<{ name: string }>>;
    assert.equal((await client.modelMetadata({ name: 'simple' })).name, 'simple');
    const req = frame(encode(messageType(reg, 'inference.ModelMetadataRequest'), { name: 'simple' }));
    const r = await rawCall(`${base}${META}`, req.toString('base64'), { 'content-type': 'application/grpc-web-text' });
    assert.equal(r.status, I.OK, r.message);
    const get = await fetch(`${base}${META}`);
    assert.equal(get.status, 405);
    assert.match(await get.text(), /only gRPC-Web/);
  });

  test('an error before any message is trailers-only in the HTTP/2 headers', async () => {
    const r = await h2Call(META, frame(encode(messageType(reg, 'inference.ModelMetadataRequest'), { name: 'nope' })), 'application/grpc-web+proto');
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['grpc-status'], '5');
    assert.match(decodeURIComponent(String(r.headers['grpc-message'])), /nope/);
    assert.equal(r.raw.byteLength, 0);
  });
});

describe('gRPC-Web backpressure over HTTP/1.1', () => {
  let server: RunningServer;
  let repo: Awaited<ReturnType<typeof scratchRepo>>;
  before(async () => {
    repo = await scratchRepo();
    await writeTestModels(repo.dir);
    server = await startTestServer(repo.dir, { streamIdleTimeoutMs: 1000 });
  });
  after(async () => {
    await server?.stop();
    await repo?.cleanup();
  });

  test('a reader that stops reading holds the model back, and its stream ends after --stream-idle-timeout', { timeout: 30_000 }, async () => {
    const reg = duetRegistry();
    const file = join(repo.dir, 'flood-web.txt');
    const text = Buffer.from('go');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(text.byteLength);
    const body = frame(encode(messageType(reg, 'inference.ModelInferRequest'), {
      modelName: 'flood',
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1n] }],
      rawInputContents: [Buffer.concat([len, text])],
      parameters: { file: { parameterChoice: { case: 'stringParam', value: file } } },
    }));
    const size = () => { try { return statSync(file).size; } catch { return 0; } };
    const parts: Buffer[] = [];
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${baseUrl(server)}${STREAM}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' } }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(res.statusCode, 200);
    res.on('data', (c: Buffer) => parts.push(c));
    // Take one chunk, then stop reading.
    await new Promise((r) => res.once('data', r));
    res.pause();
    await new Promise((r) => setTimeout(r, 2500));
    const a = size();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(size(), a, 'the model kept producing for a reader that stopped reading');
    assert.ok(a > 0 && a < 2000, `the model made ${a} of 2000 responses`);
    // Reading again, the reader finds its stream ended for the idle timeout.
    const ended = new Promise((r) => res.once('end', r));
    res.resume();
    await ended;
    const frames = parseFrames(Buffer.concat(parts));
    assert.ok(frames.length - 1 < 2000);
    const t = trailerOf(frames);
    assert.equal(t['grpc-status'], '1');
    assert.match(decodeURIComponent(t['grpc-message']), /stream-idle-timeout/);
  });
});

describe('gRPC-Web with the gRPC port off', () => {
  let server: RunningServer;
  let repo: Awaited<ReturnType<typeof scratchRepo>>;
  before(async () => {
    repo = await scratchRepo(['simple']);
    server = await startTestServer(repo.dir, { grpcPort: null });
  });
  after(async () => {
    await server?.stop();
    await repo?.cleanup();
  });

  test('the REST port still serves it', async () => {
    assert.equal(server.grpc, undefined);
    const body = frame(encode(messageType(duetRegistry(), 'inference.ModelMetadataRequest'), { name: 'simple' }));
    const r = await rawCall(`${baseUrl(server)}${META}`, body);
    assert.equal(r.status, I.OK, r.message);
  });
});

describe('gRPC-Web within the in-flight budget and the request timeout', () => {
  let server: RunningServer;
  let repo: Awaited<ReturnType<typeof scratchRepo>>;
  before(async () => {
    repo = await scratchRepo(['simple']);
    server = await startTestServer(repo.dir, { maxInflightBytes: 1024 * 1024, requestTimeoutMs: 300 });
  });
  after(async () => {
    await server?.stop();
    await repo?.cleanup();
  });

  test('a message larger than the whole budget is RESOURCE_EXHAUSTED from its header', async () => {
    const r = await rawCall(`${baseUrl(server)}${META}`, frame(Buffer.alloc(16), 0, 2 * 1024 * 1024));
    assert.equal(r.status, I.RESOURCE_EXHAUSTED);
    assert.match(r.message, /larger than the whole in-flight budget .*--max-inflight-bytes/);
    assert.equal(server.budget.used, 0);
  });

  test('a body that stalls mid-message is dropped after --request-timeout', async () => {
    const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${baseUrl(server)}${META}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto', 'content-length': '100' } }, resolve);
      req.on('error', reject);
      req.write(frame(Buffer.alloc(10), 0, 95).subarray(0, 8));
    });
    assert.equal(answer.headers['grpc-status'], String(I.DEADLINE_EXCEEDED));
    assert.match(decodeURIComponent(String(answer.headers['grpc-message'])), /request stalled.*--request-timeout/);
    answer.resume();
  });
});
