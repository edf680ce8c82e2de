// The closed-loop load generator of `duet bench`, run from the main thread: `concurrency` loops spread
// over worker threads (so the client is not the bottleneck, and when it is, the threads' event-loop
// utilization says so), a warm-up phase, a barrier, then the measured phase.

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { BenchInput, Protocol } from './payload.js';
import { concat, summarize, type LatencySummary } from './stats.js';
import type { WireBytes } from './wire.js';

export interface WorkerJob {
  protocol: Protocol;
  httpUrl?: string;
  grpcUrl?: string;
  model: string;
  version?: string;
  inputs: BenchInput[];
  loops: number;
  encode: 'each' | 'once';
  timeoutMs: number;
  /** REST: false opens a new connection per request (Connection: close); default keep-alive. */
  keepAlive?: boolean;
}

export type WorkerRequest =
  | { cmd: 'configure'; job: WorkerJob }
  | { cmd: 'run'; seconds: number }
  | { cmd: 'close' };

export type WorkerReply =
  | { type: 'configured' }
  | { type: 'failed'; error: string }
  | {
    type: 'done';
    latencies: Float64Array;
    errors: number;
    errorSamples: string[];
    /** Requests answered, successfully or not. */
    sent: number;
    seconds: number;
    /** Event-loop utilization of the thread over the phase, 0..1. */
    elu: number;
    wire: WireBytes;
    /** Message bytes: REST bodies, gRPC protobuf messages. */
    payload: WireBytes;
  };

export interface LoadSpec {
  protocol: Protocol;
  httpUrl?: string;
  grpcUrl?: string;
  model: string;
  version?: string;
  inputs: BenchInput[];
  concurrency: number;
  durationS: number;
  warmupS: number;
  /** Load-generator threads; default min(concurrency, cores). */
  workers?: number;
  /** 'each' encodes every request as a client would (default); 'once' resends the same bytes. */
  encode?: 'each' | 'once';
  timeoutS?: number;
  /** REST: false opens a new connection per request (Connection: close); default keep-alive. */
  keepAlive?: boolean;
}

export interface LoadResult {
  /** Successful requests in the measured phase. */
  requests: number;
  errors: number;
  errorSamples: string[];
  seconds: number;
  /** Successful requests per second. */
  throughput: number;
  /** Milliseconds, successful requests only. */
  latency: LatencySummary;
  /** Per request (successful or not), counted at the socket; absent for the in-process call. */
  wire?: { requestBytes: number; responseBytes: number };
  /** Per request: REST body or gRPC protobuf message bytes. */
  payload?: { requestBytes: number; responseBytes: number };
  workers: number;
  /** The busiest load-generator thread's event-loop utilization, 0..1. */
  clientElu: number;
}

/** Above this event-loop utilization a load-generator thread is the bottleneck, not the server. */
export { CLIENT_BOUND as CLIENT_BOUND_ELU } from './suites.js';

/** The default number of load-generator threads for a concurrency. */
export function defaultWorkers(concurrency: number): number {
  return Math.max(1, Math.min(concurrency, availableParallelism()));
}

class PoolWorker {
  readonly worker: Worker;
  private waiting: ((r: WorkerReply) => void) | undefined;
  private failure: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url));
    this.worker.on('message', (r: WorkerReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(r);
    });
    this.worker.on('error', (e) => {
      this.failure = e;
      const w = this.waiting;
      this.waiting = undefined;
      w?.({ type: 'failed', error: e.message });
    });
  }

  ask(m: WorkerRequest): Promise<WorkerReply> {
    if (this.failure) return Promise.resolve({ type: 'failed', error: this.failure.message });
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.worker.postMessage(m);
    });
  }
}

/** Load-generator threads, started once and reused from run to run. */
export class WorkerPool {
  private readonly workers: PoolWorker[] = [];

  async run(spec: LoadSpec, hooks: { beforeMeasure?: () => Promise<void>; onPhase?: (phase: 'warmup' | 'measure') => void } = {}): Promise<LoadResult> {
    const n = Math.max(1, Math.min(spec.workers ?? defaultWorkers(spec.concurrency), spec.concurrency));
    while (this.workers.length < n) this.workers.push(new PoolWorker());
    const used = this.workers.slice(0, n);
    const timeoutMs = Math.round((spec.timeoutS ?? 60) * 1000);
    const all = async (make: (i: number) => WorkerRequest) => {
      const replies = await Promise.all(used.map((w, i) => w.ask(make(i))));
      const failed = replies.find((r) => r.type === 'failed');
      if (failed && failed.type === 'failed') throw new Error(`load generator: ${failed.error}`);
      return replies;
    };
    await all((i) => ({
      cmd: 'configure',
      job: {
        protocol: spec.protocol, httpUrl: spec.httpUrl, grpcUrl: spec.grpcUrl, model: spec.model, version: spec.version,
        inputs: spec.inputs,
        // concurrency/n loops each, the remainder spread over the first threads.
        loops: Math.floor(spec.concurrency / n) + (i < spec.concurrency % n ? 1 : 0),
        encode: spec.encode ?? 'each', timeoutMs, keepAlive: spec.keepAlive,
      },
    }));
    if (spec.warmupS > 0) {
      hooks.onPhase?.('warmup');
      await all(() => ({ cmd: 'run', seconds: spec.warmupS }));
    }
    await hooks.beforeMeasure?.();
    hooks.onPhase?.('measure');
    const replies = await all(() => ({ cmd: 'run', seconds: spec.durationS }));
    return combine(replies.filter((r): r is Extract<WorkerReply, { type: 'done' }> => r.type === 'done'), n);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(async (w) => {
      w.worker.postMessage({ cmd: 'close' } satisfies WorkerRequest);
      await w.worker.terminate();
    }));
    this.workers.length = 0;
  }
}

function combine(done: Extract<WorkerReply, { type: 'done' }>[], workers: number): LoadResult {
  const latencies = concat(done.map((d) => d.latencies));
  const seconds = Math.max(...done.map((d) => d.seconds));
  const sent = done.reduce((s, d) => s + d.sent, 0);
  const sum = (f: (d: (typeof done)[number]) => number) => done.reduce((s, d) => s + f(d), 0);
  const errorSamples = [...new Set(done.flatMap((d) => d.errorSamples))].slice(0, 3);
  const per = (x: number) => (sent ? x / sent : 0);
  return {
    requests: latencies.length,
    errors: sum((d) => d.errors),
    errorSamples,
    seconds,
    throughput: latencies.length / seconds,
    latency: summarize(latencies),
    wire: { requestBytes: per(sum((d) => d.wire.written)), responseBytes: per(sum((d) => d.wire.read)) },
    payload: { requestBytes: per(sum((d) => d.payload.written)), responseBytes: per(sum((d) => d.payload.read)) },
    workers,
    clientElu: Math.max(...done.map((d) => d.elu)),
  };
}

/**
 * The same closed loop on this thread around an async call (the in-process baseline); the call's
 * latencies in milliseconds, successful ones only.
 */
export async function runLocalLoop(call: () => Promise<void>, concurrency: number, durationS: number, warmupS: number): Promise<LoadResult> {
  const phase = async (seconds: number) => {
    const latencies: number[] = [];
    const errorSamples: string[] = [];
    let errors = 0;
    const elu0 = performance.eventLoopUtilization();
    const start = performance.now();
    const until = start + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t0);
        } catch (e) {
          errors++;
          if (errorSamples.length < 3) errorSamples.push((e as Error).message);
        }
      }
    }));
    return { latencies, errors, errorSamples, seconds: (performance.now() - start) / 1000, elu: performance.eventLoopUtilization(elu0).utilization };
  };
  if (warmupS > 0) await phase(warmupS);
  const p = await phase(durationS);
  return {
    requests: p.latencies.length,
    errors: p.errors,
    errorSamples: [...new Set(p.errorSamples)],
    seconds: p.seconds,
    throughput: p.latencies.length / p.seconds,
    latency: summarize(p.latencies),
    workers: 0,
    clientElu: p.elu,
  };
}
