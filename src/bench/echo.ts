// The floors of `duet bench`, run as a child process: a bare node:http server, a bare node:http2
// gRPC handler and a bare grpc-js server that read each request and answer with a canned response,
// byte for byte the one Duet gave to the same request, doing no other work. The bench sets the canned response before each run
// (POST /__bench/canned), so a floor carries the same bytes both ways as the run it is compared with.
// Two more floors have Duet's shape and nothing else: the node:http and node:http2 ones, but each request's
// body goes to a worker thread in one postMessage and the answer waits for the worker's reply (the thread
// hop any server running its models off the main thread pays).
//   node echo.js   ->   prints "duet bench echo http=PORT grpc=PORT h2=PORT httphop=PORT h2hop=PORT"

import http from 'node:http';
import http2 from 'node:http2';
import { Worker } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_WINDOW } from '../protocols/grpc/server.js';
import { raiseFlowControlWindows } from './grpc-js-windows.js';

export interface CannedResponse {
  http?: { status: number; headers: Record<string, string>; body: string /* base64 */ };
  /** The serialized ModelInferResponse, base64. */
  grpc?: string;
  /** The hop floors' worker stays busy this long before it answers, as a model computing (default 0). */
  thinkUs?: number;
  /**
   * The hop floors answer as a stream of this many messages, each the canned one (default 1: one answer);
   * the worker posts each to the main thread, which writes it as it comes, as Duet streams tokens.
   */
  tokens?: number;
  /** ... and stays busy this long before each message after the first (default 0). */
  tokenUs?: number;
}

let httpCanned = { status: 200, headers: { 'content-type': 'application/json' } as Record<string, string>, body: Buffer.from('{}') };
let grpcCanned = Buffer.alloc(0);
/** The canned message with its gRPC length prefix, for the node:http2 floor. */
let grpcFramed = Buffer.alloc(5);

/**
 * The hop floors' worker: it answers each body with its length, as the model's result, `tokens` times,
 * spinning `think` µs before the first and `tokenUs` before each next (a model's compute, which keeps its
 * vCPU running as a model would).
 */
const hopWorker = new Worker(
  "const { parentPort } = require('node:worker_threads');" +
  'const spin = (us) => { if (us > 0) { const end = performance.now() + us / 1000; while (performance.now() < end); } };' +
  'parentPort.on("message", (m) => {' +
  '  spin(m.think);' +
  '  for (let i = 1; i <= m.tokens; i++) {' +
  '    if (i > 1) spin(m.tokenUs);' +
  '    parentPort.postMessage({ id: m.id, n: m.body.byteLength, last: i === m.tokens });' +
  '  }' +
  '});',
  { eval: true },
);
let thinkUs = 0;
let tokens = 1;
let tokenUs = 0;
/** 10 s: a busy floor stands in for a model's compute, never for a stuck worker. */
const MAX_THINK_US = 10_000_000;
const MAX_TOKENS = 100_000;
hopWorker.unref();
/** Per request in the worker: called with each answer, `last` on the last. */
const hopWaiting = new Map<number, (last: boolean) => void>();
let hopSeq = 0;
hopWorker.on('message', (m: { id: number; last: boolean }) => {
  const answer = hopWaiting.get(m.id);
  if (m.last) hopWaiting.delete(m.id);
  answer?.(m.last);
});
/** The body copied out of the socket's chunks into a buffer of its own, transferred to the worker. */
function hop(parts: Buffer[], then: (last: boolean) => void): void {
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const body = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.byteLength;
  }
  const id = ++hopSeq;
  hopWaiting.set(id, then);
  hopWorker.postMessage({ id, body: body.buffer, think: thinkUs, tokens, tokenUs }, [body.buffer]);
}

const answerHttp = (res: http.ServerResponse) => {
  res.writeHead(httpCanned.status, { ...httpCanned.headers, 'content-length': httpCanned.body.byteLength });
  res.end(httpCanned.body);
};

/** One message of a streamed answer: the canned body, as one SSE event; the response ends after the last. */
const streamHttp = (res: http.ServerResponse, last: boolean) => {
  if (!res.headersSent) res.writeHead(httpCanned.status, httpCanned.headers);
  if (last) res.end(httpCanned.body);
  else res.write(httpCanned.body);
};

const httpHop = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  // One answer keeps its content-length, as Duet's unary answers have one.
  req.on('end', () => hop(parts, tokens === 1 ? () => answerHttp(res) : (last) => streamHttp(res, last)));
});
httpHop.keepAliveTimeout = 65_000;

/** What is wrong with a canned setting (µs, or a count from `min`), if anything. */
function badSetting(name: string, v: unknown, max: number, min = 0): string | undefined {
  if (v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) return undefined;
  return `${name} must be a whole number from ${min} to ${max}${name.endsWith('Us') ? ' (µs)' : ''}, got ${JSON.stringify(v)}`;
}

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    if (req.url === '/__bench/canned') {
      const c = JSON.parse(Buffer.concat(parts).toString('utf8')) as CannedResponse;
      const bad = badSetting('thinkUs', c.thinkUs, MAX_THINK_US) ?? badSetting('tokenUs', c.tokenUs, MAX_THINK_US) ?? badSetting('tokens', c.tokens, MAX_TOKENS, 1);
      if (bad) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(bad);
        return;
      }
      if (c.http) httpCanned = { status: c.http.status, headers: c.http.headers, body: Buffer.from(c.http.body, 'base64') };
      if (c.grpc !== undefined) {
        grpcCanned = Buffer.from(c.grpc, 'base64');
        grpcFramed = Buffer.alloc(5 + grpcCanned.byteLength);
        grpcFramed.writeUInt32BE(grpcCanned.byteLength, 1);
        grpcCanned.copy(grpcFramed, 5);
      }
      if (c.thinkUs !== undefined) thinkUs = c.thinkUs;
      if (c.tokenUs !== undefined) tokenUs = c.tokenUs;
      if (c.tokens !== undefined) tokens = c.tokens;
      res.writeHead(204).end();
      return;
    }
    answerHttp(res);
  });
});
server.keepAliveTimeout = 65_000;

const passthrough = (b: Buffer) => b;
const grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': 2 ** 31 - 1, 'grpc.max_send_message_length': 2 ** 31 - 1 });
grpcServer.addService({
  ModelInfer: {
    path: '/inference.GRPCInferenceService/ModelInfer',
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
}, {
  ModelInfer: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, grpcCanned),
});

// What any gRPC server on node:http2 must at least do per call: read the message, answer headers,
// one DATA frame and trailers. The same windows as Duet's default.
/** One message of an answer (a unary one is `last` at once): headers with the first, trailers after the last. */
function streamGrpc(stream: http2.ServerHttp2Stream, last: boolean): void {
  if (stream.destroyed) return;
  if (!stream.headersSent) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  }
  if (last) stream.end(grpcFramed);
  else stream.write(grpcFramed);
}
const h2Server = (withHop: boolean) => {
  const s = http2.createServer({ settings: { initialWindowSize: DEFAULT_WINDOW } });
  s.on('session', (session) => session.setLocalWindowSize(DEFAULT_WINDOW));
  s.on('stream', (stream) => {
    stream.on('error', () => {});
    const parts: Buffer[] = [];
    stream.on('data', withHop ? (c: Buffer) => parts.push(c) : () => {});
    stream.on('end', withHop ? () => hop(parts, (last) => streamGrpc(stream, last)) : () => streamGrpc(stream, true));
  });
  return s;
};
const h2 = h2Server(false);
const h2Hop = h2Server(true);

const portOf = (s: http.Server | http2.Http2Server) => {
  const a = s.address();
  return typeof a === 'object' && a ? a.port : 0;
};
const listen = (s: http.Server | http2.Http2Server) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
await Promise.all([server, h2, httpHop, h2Hop].map(listen));
grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, grpcPort) => {
  if (e) throw e;
  // The same HTTP/2 windows as Duet's default, so the floor and Duet move bytes alike.
  raiseFlowControlWindows(grpcServer, DEFAULT_WINDOW);
  process.stdout.write(`duet bench echo http=${portOf(server)} grpc=${grpcPort} h2=${portOf(h2)} httphop=${portOf(httpHop)} h2hop=${portOf(h2Hop)}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
