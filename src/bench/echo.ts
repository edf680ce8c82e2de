// The floors of `duet bench`, run as a child process: a bare node:http server and a bare grpc-js
// server that read each request and answer with a canned response, byte for byte the one Duet gave
// to the same request, doing no other work. The bench sets the canned response before each run
// (POST /__bench/canned), so a floor carries the same bytes both ways as the run it is compared with.
//   node echo.js   ->   prints "duet bench echo http=PORT grpc=PORT"

import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_WINDOW } from '../protocols/grpc/server.js';
import { raiseFlowControlWindows } from './grpc-js-windows.js';

export interface CannedResponse {
  http?: { status: number; headers: Record<string, string>; body: string /* base64 */ };
  /** The serialized ModelInferResponse, base64. */
  grpc?: string;
}

let httpCanned = { status: 200, headers: { 'content-type': 'application/json' } as Record<string, string>, body: Buffer.from('{}') };
let grpcCanned = Buffer.alloc(0);

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    if (req.url === '/__bench/canned') {
      const c = JSON.parse(Buffer.concat(parts).toString('utf8')) as CannedResponse;
      if (c.http) httpCanned = { status: c.http.status, headers: c.http.headers, body: Buffer.from(c.http.body, 'base64') };
      if (c.grpc !== undefined) grpcCanned = Buffer.from(c.grpc, 'base64');
      res.writeHead(204).end();
      return;
    }
    res.writeHead(httpCanned.status, { ...httpCanned.headers, 'content-length': httpCanned.body.byteLength });
    res.end(httpCanned.body);
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

server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  const httpPort = typeof a === 'object' && a ? a.port : 0;
  grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, grpcPort) => {
    if (e) throw e;
    // The same HTTP/2 windows as Duet's default, so the floor and Duet move bytes alike.
    raiseFlowControlWindows(grpcServer, DEFAULT_WINDOW);
    process.stdout.write(`duet bench echo http=${httpPort} grpc=${grpcPort}\n`);
  });
});

process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
