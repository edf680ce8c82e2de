// Large REST infer bodies are decoded on a small pool of parser threads, so one 60 MB JSON body no
// longer holds the event loop (health checks, other requests) for the seconds its parse takes.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InferenceError, type ErrorCode } from '../../core/errors.js';
import { decodeInferRequest, type DecodedInfer } from './codec.js';

/**
 * JSON headers at least this large are decoded on a parser thread. Measured roughly (FP32 data, two
 * busy shared cores, medians): 140 KiB costs 3 ms inline against ~3 ms of main-thread time to hand it
 * over plus ~5 ms more latency; 560 KiB 15 ms against 5 ms; 2.2 MiB 115 ms against 6 ms. So the
 * main thread breaks even near 150 KiB, but below 1 MiB the stall stays in the tens of ms while the
 * thread hop adds latency to every such request; above it the stall grows into seconds.
 */
export const OFFLOAD_BYTES = 1024 * 1024;

/** One or two threads: enough to keep the loop free, few enough that parses cannot take every core. */
export const DEFAULT_PARSERS = Math.min(2, Math.max(1, availableParallelism() - 1));

const WORKER_URL = new URL('./parse-worker.js', import.meta.url);

export interface ParseJob {
  id: number;
  body: Uint8Array;
  headerLength: number | undefined;
  modelName: string;
  modelVersion: string | undefined;
}

export type ParseResult =
  | { id: number; decoded: DecodedInfer; error?: undefined }
  | { id: number; decoded?: undefined; error: { code: ErrorCode; message: string } };

interface Job {
  msg: ParseJob;
  resolve: (d: DecodedInfer) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
}

interface Parser {
  worker: Worker;
  job?: Job;
  idle?: NodeJS.Timeout;
}

/** A parser left idle this long ends, giving back the heap a large parse grew. */
const IDLE_MS = 30_000;

export class ParsePool {
  private readonly parsers: Parser[] = [];
  private readonly queue: Job[] = [];
  private seq = 0;
  private closed = false;

  constructor(private readonly size = DEFAULT_PARSERS, private readonly threshold = OFFLOAD_BYTES) {}

  /** True when a body with this much JSON would be decoded on a parser thread. */
  offloads(jsonBytes: number): boolean {
    return jsonBytes >= this.threshold && !this.closed;
  }

  /**
   * decodeInferRequest, on a parser thread when the JSON is large. The body is handed over (its
   * memory moves to the thread and back with the tensors); the caller must not use it afterwards.
   */
  async decodeInfer(body: Buffer, headerLength: number | undefined, modelName: string, modelVersion?: string, signal?: AbortSignal): Promise<DecodedInfer> {
    if (!this.offloads(headerLength ?? body.byteLength)) {
      return decodeInferRequest(body, headerLength, modelName, modelVersion);
    }
    // The JSON is checked against the body inside decodeInferRequest; only the bytes travel.
    const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const bytes = owned ? body : new Uint8Array(body);
    const msg: ParseJob = { id: ++this.seq, body: bytes, headerLength, modelName, modelVersion };
    return new Promise<DecodedInfer>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      this.queue.push({ msg, resolve, reject, signal });
      this.dispatch();
    });
  }

  /** Stop the threads (once no request is left); bodies still queued are decoded inline. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.inline(job);
    await Promise.all(this.parsers.splice(0).map((p) => {
      clearTimeout(p.idle);
      p.job?.reject(new InferenceError('UNAVAILABLE', 'server is shutting down'));
      return p.worker.terminate();
    }));
  }

  private inline(job: Job): void {
    try {
      job.resolve(decodeInferRequest(Buffer.from(job.msg.body.buffer, job.msg.body.byteOffset, job.msg.body.byteLength), job.msg.headerLength, job.msg.modelName, job.msg.modelVersion));
    } catch (e) {
      job.reject(e);
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let p = this.parsers.find((x) => !x.job);
      if (!p && this.parsers.length < this.size) p = this.spawn();
      if (!p) return;
      const job = this.queue.shift()!;
      // A client that left while its body waited is not parsed at all.
      if (job.signal?.aborted) {
        job.reject(job.signal.reason);
        continue;
      }
      p.job = job;
      clearTimeout(p.idle);
      const b = job.msg.body;
      p.worker.postMessage(job.msg, [b.buffer as ArrayBuffer]);
    }
  }

  private spawn(): Parser {
    const p: Parser = { worker: new Worker(WORKER_URL, { name: 'duet:json-parser' }) };
    // An idle parser must not keep the process alive.
    p.worker.unref();
    p.worker.on('message', (r: ParseResult) => {
      const job = p.job;
      p.job = undefined;
      if (job) {
        if (r.error) job.reject(new InferenceError(r.error.code, r.error.message));
        else job.resolve(r.decoded);
      }
      this.dispatch();
      if (!p.job) {
        p.idle = setTimeout(() => void p.worker.terminate(), IDLE_MS);
        p.idle.unref();
      }
    });
    p.worker.on('error', (e: Error & { code?: string }) => this.lost(p, e.code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? new InferenceError('RESOURCE_EXHAUSTED', `a JSON body of ${p.job?.msg.body.byteLength ?? 0} bytes needed more memory to decode than the parser thread has; send it with the binary tensor extension`)
      : new InferenceError('INTERNAL', `JSON parser thread failed: ${e.message}`)));
    p.worker.on('exit', (code) => this.lost(p, new InferenceError('INTERNAL', `JSON parser thread exited (code ${code})`)));
    this.parsers.push(p);
    return p;
  }

  /** A parser died: fail the body it held, and let a fresh thread take the rest. */
  private lost(p: Parser, err: InferenceError): void {
    clearTimeout(p.idle);
    const i = this.parsers.indexOf(p);
    if (i < 0) return;
    this.parsers.splice(i, 1);
    const job = p.job;
    p.job = undefined;
    job?.reject(err);
    if (!this.closed) this.dispatch();
  }
}
