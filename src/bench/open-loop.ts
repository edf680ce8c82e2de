// Open-loop load for the hol and fanout suites: requests leave on a schedule, not when the last one
// is answered, so a blocked connection shows as waiting time (a closed loop would just send less).
// Latency counts from the moment a request is handed to the client, so time queued there (an HTTP/1.1
// agent waiting for its one connection) is part of it, as a caller would see it. Runs on the bench's
// main thread.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { GrpcClient } from '../../packages/client/src/grpc.js';
import type { InferStream } from '../../packages/client/src/grpc-common.js';
import { INFERENCE_SERVICE } from '../protocols/grpc/server.js';
import { encodeHttp, grpcRequest, type BenchInput } from './payload.js';

/** One request, resolving when its answer is complete; rejects with a short reason. */
export type Call = () => Promise<void>;

export interface RequestSpec {
  model: string;
  inputs: BenchInput[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** A REST infer (binary tensors, or JSON) over `agent` (its sockets decide the connections). */
export function restCall(hostPort: string, agent: http.Agent, spec: RequestSpec, timeoutMs = 60_000, binary = true): Call {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))];
  const r = encodeHttp(spec.model, undefined, spec.inputs, binary);
  return () => new Promise<void>((resolve, reject) => {
    const req = http.request({ host, port, method: 'POST', path: r.path, agent, headers: r.headers, timeout: timeoutMs }, (res) => {
      res.on('data', () => {});
      res.on('error', reject);
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    for (const c of r.chunks) req.write(c);
    req.end();
  });
}

/** A unary ModelInfer on `client`'s one HTTP/2 connection. */
export function grpcCall(client: GrpcClient, spec: RequestSpec): Call {
  const bytes = INFERENCE_SERVICE.ModelInfer.requestSerialize(grpcRequest(spec.model, undefined, spec.inputs));
  return async () => {
    await client.unary('ModelInfer', bytes);
  };
}

/** Requests on one long-lived ModelStreamInfer stream, one at a time (FP32 inputs). */
export function streamCall(client: GrpcClient, spec: RequestSpec): { call: Call; stream: InferStream } {
  const stream = client.openStream();
  const responses = stream.responses[Symbol.asyncIterator]();
  const inputs = spec.inputs.map((i) => ({
    name: i.name, datatype: i.datatype, shape: i.shape,
    data: new Float32Array(i.raw.buffer.slice(i.raw.byteOffset, i.raw.byteOffset + i.raw.byteLength)),
  }));
  return {
    stream,
    call: async () => {
      stream.send(spec.model, inputs);
      const r = await responses.next();
      if (r.done) throw new Error('the stream ended');
      if (r.value.error) throw new Error(`${r.value.error.code}: ${r.value.error.message}`);
    },
  };
}

export interface OpenLoopResult {
  /** Latencies of successful requests, ms. */
  latencies: number[];
  errors: number;
  errorSamples: string[];
  seconds: number;
}

function recorder() {
  const r: OpenLoopResult = { latencies: [], errors: 0, errorSamples: [], seconds: 0 };
  const one = async (call: Call, t0: number) => {
    try {
      await call();
      r.latencies.push(performance.now() - t0);
    } catch (e) {
      r.errors++;
      const m = (e as Error).message;
      if (r.errorSamples.length < 3 && !r.errorSamples.includes(m)) r.errorSamples.push(m);
    }
  };
  return { r, one };
}

/**
 * Each of `calls` sends every `intervalMs`, the calls' phases spread evenly over the interval; a call
 * whose last request is still out when its next is due waits for it (one in flight per caller).
 * Every request sent before `seconds` is waited for.
 */
export async function paced(calls: Call[], intervalMs: number, seconds: number): Promise<OpenLoopResult> {
  const { r, one } = recorder();
  const start = performance.now();
  const until = start + seconds * 1000;
  await Promise.all(calls.map(async (call, i) => {
    let due = start + (intervalMs * i) / calls.length;
    for (; due < until; due += intervalMs) {
      await sleep(due - performance.now());
      await one(call, performance.now());
    }
  }));
  r.seconds = (performance.now() - start) / 1000;
  return r;
}

/**
 * Fast requests every `intervalMs` regardless of answers (each on its own, so they can queue behind
 * one another), while `background` loops keep slow requests in flight back to back. Returns the fast
 * requests' latencies and the slow ones'.
 */
export async function mixed(fast: Call, intervalMs: number, background: Call[], seconds: number): Promise<{ fast: OpenLoopResult; slow: OpenLoopResult }> {
  const f = recorder();
  const s = recorder();
  const start = performance.now();
  const until = start + seconds * 1000;
  const slowLoops = background.map(async (call) => {
    while (performance.now() < until) await s.one(call, performance.now());
  });
  const pending: Promise<void>[] = [];
  for (let due = start + intervalMs / 2; due < until; due += intervalMs) {
    await sleep(due - performance.now());
    pending.push(f.one(fast, performance.now()));
  }
  await Promise.all([...pending, ...slowLoops]);
  f.r.seconds = s.r.seconds = (performance.now() - start) / 1000;
  return { fast: f.r, slow: s.r };
}
