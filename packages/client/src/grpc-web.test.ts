// GrpcWebClient against a scripted node:http server: the wire it sends, and what it makes of odd answers.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferenceError } from './errors.js';
import { inference } from './generated/proto.js';
import { GrpcWebClient } from './grpc-web.js';
import { encodeBase64, encodeFrame } from './grpc-web-frames.js';

type Script = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;
let script: Script;
let seen: { url?: string; headers?: http.IncomingHttpHeaders; body?: Buffer; closed?: Promise<void> } = {};
let server: http.Server;
let url: string;

before(async () => {
  server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      seen = { url: req.url, headers: req.headers, body: Buffer.concat(parts), closed: new Promise((r) => res.on('close', () => r())) };
      script(req, seen.body!, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => {
  server.close(() => r());
  server.closeAllConnections(); // fetch's idle keep-alive sockets
}));

const trailer = (lines: string) => {
  const f = encodeFrame(Buffer.from(lines));
  f[0] = 0x80;
  return f;
};
const live = encodeFrame(inference.ServerLiveResponse.encode({ live: true }).finish());
const OK = trailer('grpc-status: 0\r\n');
const fails = (code: string, re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === code && re.test(e.message);

function answer(type: string, ...parts: Uint8Array[]): Script {
  return (_req, _body, res) => {
    res.writeHead(200, { 'content-type': type });
    for (const p of parts) res.write(p);
    res.end();
  };
}

test('binary mode: the path, headers and framed request; one message then OK trailers', async () => {
  const c = new GrpcWebClient(url, { token: 'k', headers: { 'triton-grpc-protocol-x': 'y' }, timeoutMs: 2500 });
  script = answer('application/grpc-web+proto', encodeFrame(inference.ModelReadyResponse.encode({ ready: false }).finish()), OK);
  assert.equal(await c.isModelReady('m'), false);
  assert.equal(seen.url, '/inference.GRPCInferenceService/ModelReady');
  const h = seen.headers!;
  assert.equal(h['content-type'], 'application/grpc-web+proto');
  assert.equal(h['x-grpc-web'], '1');
  assert.equal(h['grpc-timeout'], '2500m');
  assert.equal(h.authorization, 'Bearer k');
  assert.equal(h['triton-grpc-protocol-x'], 'y');
  const body = seen.body!;
  assert.equal(body[0], 0);
  assert.equal(body.readUInt32BE(1), body.byteLength - 5);
  assert.deepEqual(inference.ModelReadyRequest.toObject(inference.ModelReadyRequest.decode(body.subarray(5))), { name: 'm' });
  script = answer('application/grpc-web+proto', live, OK);
  assert.equal(await c.isServerLive(), true);
});

test('text mode: base64 request; a response with padding mid-body, written a few characters at a time', async () => {
  const text = Buffer.from(encodeBase64(live) + encodeBase64(OK));
  script = (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc-web-text' });
    let at = 0;
    const more = () => (at < text.byteLength ? res.write(text.subarray(at, (at += 3)), () => setTimeout(more, 1)) : res.end());
    more();
  };
  const c = new GrpcWebClient(url, { mode: 'text' });
  assert.equal(await c.isServerLive(), true);
  assert.equal(seen.headers!['content-type'], 'application/grpc-web-text');
  const framed = Buffer.from(seen.body!.toString(), 'base64');
  assert.equal(framed.readUInt32BE(1), framed.byteLength - 5);
});

test('trailers-only: grpc-status in the headers is the call\'s status, its message percent-decoded', async () => {
  script = (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc-web+proto', 'grpc-status': '5', 'grpc-message': "model%20'x'%20not%20found" });
    res.end();
  };
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('NOT_FOUND', /^model 'x' not found$/));
});

test('an error status in the trailer frame after a message is the call\'s error', async () => {
  script = answer('application/grpc-web+proto', live, trailer('grpc-status: 3\r\ngrpc-message: bad%20input\r\n'));
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('INVALID_ARGUMENT', /^bad input$/));
});

test('malformed answers are INTERNAL, naming what was wrong', async () => {
  script = answer('application/grpc-web+proto', live, trailer('grpc-status 0\r\n'));
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('INTERNAL', /trailer line "grpc-status 0"/));
  script = answer('application/grpc-web+proto', live);
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('INTERNAL', /without a trailer frame/));
  script = answer('application/grpc-web+proto', live.subarray(0, 3));
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('INTERNAL', /ended inside a frame/));
  script = answer('application/grpc-web+proto', live, live, OK);
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('INTERNAL', /more than one response to a unary call/));
  script = answer('application/grpc-web+proto', OK);
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('INTERNAL', /status OK and no response/));
  script = answer('application/json', live, OK);
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('INTERNAL', /content-type 'application\/json', not gRPC-Web/));
});

test('an HTTP error without grpc-status maps as the gRPC-Web spec says', async () => {
  script = (_req, _body, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
  };
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('UNIMPLEMENTED', /HTTP 404 Not Found: \{"error":"not found"\}/));
  script = (_req, _body, res) => {
    res.writeHead(503);
    res.end();
  };
  await assert.rejects(new GrpcWebClient(url).isServerLive(), fails('UNAVAILABLE', /HTTP 503/));
});

test('an AbortSignal cancels the call and the server sees its connection close; a deadline is DEADLINE_EXCEEDED', async () => {
  script = (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc-web+proto' });
    res.write(live.subarray(0, 3));
  };
  const ac = new AbortController();
  const call = new GrpcWebClient(url).call('ServerLive', {}, ac.signal);
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await assert.rejects(call, fails('CANCELLED', /Cancelled on client/));
  await seen.closed;
  await assert.rejects(new GrpcWebClient(url, { timeoutMs: 100 }).isServerLive(), fails('DEADLINE_EXCEEDED', /Deadline exceeded after 100 ms/));
  await seen.closed;
});

test('a server that is not there is UNAVAILABLE', async () => {
  const gone = http.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  const port = (gone.address() as AddressInfo).port;
  await new Promise<void>((r) => gone.close(() => r()));
  await assert.rejects(new GrpcWebClient(`127.0.0.1:${port}`).isServerLive(), fails('UNAVAILABLE', /ECONNREFUSED/));
});
