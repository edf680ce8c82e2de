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
}

let httpCanned = { status: 200, headers: { 'content-type': 'application/json' } as Record<string, string>, body: Buffer.from('{}') };
let grpcCanned = Buffer.alloc(0);
/** The canned message with its gRPC length prefix, for the node:http2 floor. */
let grpcFramed = Buffer.alloc(5);

/**
 * The hop floors' worker: it answers each body with its length, as the model's result, after spinning
 * for `think` µs (a model's compute, which keeps its vCPU running as a model would).
 */
const hopWorker = new Worker(
  "const { parentPort } = require('node:worker_threads');" +
  'parentPort.on("message", (m) => {' +
  '  if (m.think > 0) { const end = performance.now() + m.think / 1000; while (performance.now() < end); }' +
  '  parentPort.postMessage({ id: m.id, n: m.body.byteLength });' +
  '});',
  { eval: true },
);
let thinkUs = 0;
/** 10 s: a busy floor stands in for a first token, never for a stuck worker. */
const MAX_THINK_US = 10_000_000;
hopWorker.unref();
const hopWaiting = new Map<number, () => void>();
let hopSeq = 0;
hopWorker.on('message', (m: { id: number }) => {
  const done = hopWaiting.get(m.id);
  hopWaiting.delete(m.id);
  done?.();
});
/** The body copied out of the socket's chunks into a buffer of its own, transferred to the worker. */
function hop(parts: Buffer[], then: () => void): void {
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
  hopWorker.postMessage({ id, body: body.buffer, think: thinkUs }, [body.buffer]);
}

const answerHttp = (res: http.ServerResponse) => {
  res.writeHead(httpCanned.status, { ...httpCanned.headers, 'content-length': httpCanned.body.byteLength });
  res.end(httpCanned.body);
};

const httpHop = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => hop(parts, () => answerHttp(res)));
});
httpHop.keepAliveTimeout = 65_000;

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    if (req.url === '/__bench/canned') {
      const c = JSON.parse(Buffer.concat(parts).toString('utf8')) as CannedResponse;
      const think = c.thinkUs;
      if (think !== undefined && !(typeof think === 'number' && think >= 0 && think <= MAX_THINK_US)) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`thinkUs must be a number of µs from 0 to ${MAX_THINK_US}, got ${JSON.stringify(think)}`);
        return;
      }
      if (c.http) httpCanned = { status: c.http.status, headers: c.http.headers, body: Buffer.from(c.http.body, 'base64') };
      if (c.grpc !== undefined) {
        grpcCanned = Buffer.from(c.grpc, 'base64');
        grpcFramed = Buffer.alloc(5 + grpcCanned.byteLength);
        grpcFramed.writeUInt32BE(grpcCanned.byteLength, 1);
        grpcCanned.copy(grpcFramed, 5);
      }
      if (think !== undefined) thinkUs = think;
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
function answerGrpc(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(grpcFramed);
}
const h2Server = (withHop: boolean) => {
  const s = http2.createServer({ settings: { initialWindowSize: DEFAULT_WINDOW } });
  s.on('session', (session) => session.setLocalWindowSize(DEFAULT_WINDOW));
  s.on('stream', (stream) => {
    stream.on('error', () => {});
    const parts: Buffer[] = [];
    stream.on('data', withHop ? (c: Buffer) => parts.push(c) : () => {});
    stream.on('end', withHop ? () => hop(parts, () => answerGrpc(stream)) : () => answerGrpc(stream));
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
