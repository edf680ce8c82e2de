// A load-generator thread of `duet bench`: `loops` closed loops, each sending its next request the
// moment the last one is answered, over its own clients; it reports every latency, the bytes its
// sockets carried and how busy its event loop was (a busy loop means the client is the bottleneck).

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { GrpcClient, decodeInferResponse as decodeGrpcResponse } from '../../packages/client/src/grpc.js';
import { decodeInferResponse as decodeHttpResponse } from '../../packages/client/src/http.js';
import type { InferenceError } from '../../packages/client/src/errors.js';
import { INFERENCE_SERVICE } from '../protocols/grpc/server.js';
import type { inference } from '../generated/proto.js';
import { encodeHttp, grpcRequest } from './payload.js';
import { SocketMeter } from './wire.js';
import type { WorkerJob, WorkerReply, WorkerRequest } from './load.js';

interface Outcome {
  ok: boolean;
  error?: string;
  /** Request and response message bytes (REST body; gRPC protobuf message). */
  reqBytes: number;
  resBytes: number;
}

interface Caller {
  once(): Promise<Outcome>;
  close(): void;
}

function httpCaller(job: WorkerJob): Caller {
  const u = new URL(job.httpUrl!.includes('://') ? job.httpUrl! : `http://${job.httpUrl}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 80);
  // Without keep-alive node:http sends Connection: close and each request opens its own connection.
  const agent = new http.Agent({ keepAlive: job.keepAlive !== false, maxSockets: job.loops });
  const binary = job.protocol === 'http-binary';
  const fixed = job.encode === 'once' ? encodeHttp(job.model, job.version, job.inputs, binary) : undefined;
  return {
    once: () => {
      const r = fixed ?? encodeHttp(job.model, job.version, job.inputs, binary);
      return new Promise<Outcome>((resolve) => {
        let done = false;
        const finish = (o: Outcome) => {
          if (!done) {
            done = true;
            resolve(o);
          }
        };
        const req = http.request({ host, port, method: 'POST', path: r.path, agent, headers: r.headers, timeout: job.timeoutMs }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('error', (e) => finish({ ok: false, error: e.message, reqBytes: r.bodyBytes, resBytes: 0 }));
          res.on('end', () => {
            const body = Buffer.concat(parts);
            const status = res.statusCode ?? 0;
            if (status !== 200) {
              let msg = body.toString('utf8');
              try {
                msg = (JSON.parse(msg) as { error?: string }).error ?? msg;
              } catch {
                // not JSON
              }
              finish({ ok: false, error: `HTTP ${status}: ${msg.slice(0, 200)}`, reqBytes: r.bodyBytes, resBytes: body.byteLength });
              return;
            }
            try {
              decodeHttpResponse({ headers: res.headers, body });
              finish({ ok: true, reqBytes: r.bodyBytes, resBytes: body.byteLength });
            } catch (e) {
              finish({ ok: false, error: `bad response: ${(e as Error).message}`, reqBytes: r.bodyBytes, resBytes: body.byteLength });
            }
          });
        });
        req.on('timeout', () => req.destroy(new Error(`no response in ${job.timeoutMs} ms`)));
        req.on('error', (e) => finish({ ok: false, error: e.message, reqBytes: r.bodyBytes, resBytes: 0 }));
        for (const c of r.chunks) req.write(c);
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
}

function grpcCaller(job: WorkerJob): Caller {
  const client = new GrpcClient(job.grpcUrl!, { timeoutMs: job.timeoutMs });
  const def = INFERENCE_SERVICE.ModelInfer;
  const message = grpcRequest(job.model, job.version, job.inputs);
  const fixed = job.encode === 'once' ? def.requestSerialize(message) : undefined;
  return {
    once: async (): Promise<Outcome> => {
      const req = fixed ?? def.requestSerialize(message);
      let res: Uint8Array;
      try {
        res = await client.unary('ModelInfer', req);
      } catch (e) {
        const err = e as InferenceError;
        return { ok: false, error: `${err.code ?? 'ERROR'}: ${String(err.message).slice(0, 200)}`, reqBytes: req.byteLength, resBytes: 0 };
      }
      try {
        decodeGrpcResponse(def.responseDeserialize(Buffer.from(res.buffer, res.byteOffset, res.byteLength)) as inference.ModelInferResponse);
        return { ok: true, reqBytes: req.byteLength, resBytes: res.byteLength };
      } catch (e) {
        return { ok: false, error: `bad response: ${(e as Error).message}`, reqBytes: req.byteLength, resBytes: res.byteLength };
      }
    },
    close: () => void client.close(),
  };
}

const port = parentPort!;
const meter = new SocketMeter();
let job: WorkerJob | undefined;
let callers: Caller[] = [];

function configure(j: WorkerJob): void {
  for (const c of callers) c.close();
  job = j;
  // One client per thread: its loops share an HTTP/2 connection (gRPC) or an agent with a socket per loop (REST).
  const caller = j.protocol === 'grpc' ? grpcCaller(j) : httpCaller(j);
  callers = [caller];
}

async function run(seconds: number): Promise<WorkerReply> {
  const caller = callers[0];
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let sent = 0;
  let reqBytes = 0;
  let resBytes = 0;
  meter.reset();
  const elu0 = performance.eventLoopUtilization();
  const start = performance.now();
  const until = start + seconds * 1000;
  const loop = async () => {
    while (performance.now() < until) {
      const t0 = performance.now();
      const o = await caller.once();
      const t = performance.now() - t0;
      sent++;
      reqBytes += o.reqBytes;
      resBytes += o.resBytes;
      if (o.ok) latencies.push(t);
      else {
        errors++;
        if (errorSamples.length < 3 && o.error && !errorSamples.includes(o.error)) errorSamples.push(o.error);
      }
    }
  };
  await Promise.all(Array.from({ length: job!.loops }, loop));
  const seconds_ = (performance.now() - start) / 1000;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const wire = meter.read();
  return { type: 'done', latencies: Float64Array.from(latencies), errors, errorSamples, sent, seconds: seconds_, elu, wire, payload: { written: reqBytes, read: resBytes } };
}

port.on('message', (m: WorkerRequest) => {
  if (m.cmd === 'configure') {
    try {
      configure(m.job);
      port.postMessage({ type: 'configured' } satisfies WorkerReply);
    } catch (e) {
      port.postMessage({ type: 'failed', error: (e as Error).message } satisfies WorkerReply);
    }
  } else if (m.cmd === 'run') {
    run(m.seconds).then(
      (r) => port.postMessage(r, r.type === 'done' ? [r.latencies.buffer as ArrayBuffer] : []),
      (e) => port.postMessage({ type: 'failed', error: (e as Error).message } satisfies WorkerReply),
    );
  } else if (m.cmd === 'close') {
    for (const c of callers) c.close();
    callers = [];
    meter.dispose();
    port.close();
  }
});
