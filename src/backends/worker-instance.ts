// The main-thread handle of one model instance living in its own worker thread. A worker that
// crashes fails only the requests it held, and is started again (as Triton restarts a crashed
// backend stub), so one bad request does not leave a dead instance in the pool.

import { Worker } from 'node:worker_threads';
import { InferenceError } from '../core/errors.js';
import { AsyncQueue } from '../core/async-queue.js';
import type { ExecuteBatchResult, ExecuteRequest, LoadResult, LoadSpec, ModelInstance, StagedRequest, StreamItem } from './backend.js';
import { STREAM_REFILL, STREAM_WINDOW, type ExecuteMessage, type FromWorker, type ToWorker, type WireRequest } from './protocol.js';
import { packBatch, packTensors, unpackTensors } from './wire.js';
import { DONE } from '../core/iter.js';
import { answerDue, registerOwer, unregisterOwer, type Awaiting } from './answer-poll.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);
/** More crashes than this within RESTART_WINDOW_MS and the instance stays down. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

interface Pending {
  resolve: (r: ExecuteBatchResult) => void;
  reject: (e: Error) => void;
  /** When it was posted (performance.now()). */
  at: number;
}

export class WorkerInstance implements ModelInstance, Awaiting {
  readonly name: string;
  /** The worker queues executions and runs them in order. */
  readonly pipelined = true;
  loadResult: LoadResult = {};
  private worker!: Worker;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, WorkerStream>();
  /** Streams without their first answer yet, with when they opened (the answer poller waits for those only). */
  private readonly unanswered = new Map<number, number>();
  /** How long answers take here (ms, a moving average): the poller does not wait out one it cannot outlast. */
  private answerMs = 0;
  private loadWaiter: { resolve: (r: LoadResult) => void; reject: (e: Error) => void } | undefined;
  private restarting: Promise<void> | undefined;
  private readonly crashes: number[] = [];
  /** Set when the instance is closed or cannot be restarted. */
  private down: InferenceError | undefined;
  private onClosed: (() => void) | undefined;
  /**
   * The staged request's id, shared with the worker: id staged, -id claimed by the worker, 0 none. Not
   * reset on a restart: a request staged on a worker that crashed is still `id`, so the scheduler takes it
   * back and it runs on the new worker.
   */
  private readonly stageWord = new Int32Array(new SharedArrayBuffer(4));
  private stageId = 0;
  /** Executions of this tick not yet posted (see flush), with the buffers they transfer. */
  private outbox: ExecuteMessage[] = [];
  private outboxTransfer: ArrayBuffer[] = [];

  private constructor(private readonly spec: LoadSpec) {
    this.name = spec.instanceName;
  }

  static async start(spec: LoadSpec): Promise<WorkerInstance> {
    const inst = new WorkerInstance(spec);
    try {
      inst.loadResult = await inst.spawn();
      registerOwer(inst);
    } catch (e) {
      inst.down = new InferenceError('UNAVAILABLE', `model instance '${inst.name}' failed to load`);
      await inst.worker.terminate();
      throw e;
    }
    return inst;
  }

  private spawn(): Promise<LoadResult> {
    const w = new Worker(WORKER_URL, { name: `duet:${this.name}` });
    this.worker = w;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (e) => this.onCrash(w, `crashed: ${e.message}`));
    w.on('exit', (code) => {
      if (w === this.worker) this.onClosed?.();
      this.onCrash(w, `exited (code ${code})`);
    });
    return new Promise((resolve, reject) => {
      this.loadWaiter = { resolve, reject };
      this.send({ type: 'load', spec: this.spec, stage: this.stageWord.buffer as SharedArrayBuffer });
    });
  }

  private send(msg: ToWorker, transfer: ArrayBuffer[] = []) {
    if (this.outbox.length) this.flush();
    this.worker.postMessage(msg, transfer);
  }

  /**
   * Executions go at the end of the tick they were made in, together when there are several: each
   * postMessage wakes the worker thread, which on a busy machine costs the main thread its core.
   */
  private queueExecution(msg: ExecuteMessage, transfer: ArrayBuffer[]): void {
    if (this.outbox.push(msg) === 1) queueMicrotask(this.flush);
    for (const b of transfer) this.outboxTransfer.push(b);
  }

  private readonly flush = () => {
    const list = this.outbox;
    if (!list.length) return;
    const transfer = this.outboxTransfer;
    this.outbox = [];
    this.outboxTransfer = [];
    this.worker.postMessage(list.length === 1 ? list[0] : { type: 'executions', list } satisfies ToWorker, transfer);
    answerDue(this.answerMs);
  };

  private answered(since: number): void {
    this.answerMs += (performance.now() - since - this.answerMs) / 8;
  }

  /** The answer poller's question (answer-poll.ts). */
  awaiting(): number {
    return this.pending.size + this.unanswered.size;
  }

  private onMessage(m: FromWorker) {
    switch (m.type) {
      case 'loaded':
        this.loadWaiter?.resolve(m.result);
        this.loadWaiter = undefined;
        return;
      case 'load-failed':
        this.loadWaiter?.reject(new InferenceError(m.error.code, m.error.message));
        this.loadWaiter = undefined;
        return;
      case 'results': {
        const p = this.pending.get(m.seq);
        if (!p) return;
        this.pending.delete(m.seq);
        this.answered(p.at);
        p.resolve({
          results: m.results.map((r) =>
            'error' in r ? new InferenceError(r.error.code, r.error.message) : unpackTensors({ slots: r.outputs, buffer: m.buffer })),
          timing: m.timing,
        });
        return;
      }
      case 'stream-item': {
        const opened = this.unanswered.get(m.seq);
        if (opened !== undefined) {
          this.unanswered.delete(m.seq);
          this.answered(opened);
        }
        this.streams.get(m.seq)?.queue.push({ outputs: unpackTensors({ slots: m.outputs, buffer: m.buffer }), parameters: m.parameters });
        return;
      }
      case 'stream-end':
        this.unanswered.delete(m.seq);
        this.streams.get(m.seq)?.finish(m.error ? new InferenceError(m.error.code, m.error.message) : undefined);
        return;
      case 'closed':
        this.onClosed?.();
        return;
    }
  }

  private onCrash(w: Worker, why: string) {
    if (w !== this.worker) return; // 'error' then 'exit' of the same worker, or an old one
    const err = new InferenceError('INTERNAL', `model instance '${this.name}' ${why}`);
    // Executions not yet posted belong to requests failed just below.
    this.outbox = [];
    this.outboxTransfer = [];
    this.loadWaiter?.reject(err);
    this.loadWaiter = undefined;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.unanswered.clear();
    for (const st of [...this.streams.values()]) st.finish(err);
    if (this.down || this.restarting) return;
    const now = Date.now();
    this.crashes.push(now);
    while (this.crashes.length && this.crashes[0] < now - RESTART_WINDOW_MS) this.crashes.shift();
    if (this.crashes.length > MAX_RESTARTS) {
      this.down = new InferenceError('UNAVAILABLE', `model instance '${this.name}' crashed ${this.crashes.length} times in a minute and stays down; reload the model`);
      return;
    }
    this.restarting = this.spawn().then(
      () => undefined,
      (e: Error) => {
        this.down = new InferenceError('UNAVAILABLE', `model instance '${this.name}' could not be restarted: ${e.message}`);
      },
    ).finally(() => {
      this.restarting = undefined;
    });
  }

  execute(requests: ExecuteRequest[]): Promise<ExecuteBatchResult> {
    if (this.restarting) return this.restarting.then(() => this.execute(requests));
    if (this.down) return Promise.reject(this.down);
    return new Promise((resolve, reject) => this.post(requests, resolve, reject));
  }

  stage(request: ExecuteRequest): StagedRequest | undefined {
    if (this.restarting || this.down) return undefined;
    const word = this.stageWord;
    const id = (this.stageId = (this.stageId % 0x3fffffff) + 1);
    Atomics.store(word, 0, id);
    let seq = 0;
    const result = new Promise<ExecuteBatchResult>((resolve, reject) => {
      seq = this.post([request], resolve, reject, id);
    });
    // A staged request taken back, or failed by a crash before it started, is nobody's failure.
    result.catch(() => {});
    return {
      started: () => Atomics.load(word, 0) === -id,
      revoke: () => {
        if (Atomics.compareExchange(word, 0, id, 0) !== id) return false;
        this.pending.delete(seq);
        return true;
      },
      result,
    };
  }

  private post(requests: ExecuteRequest[], resolve: Pending['resolve'], reject: Pending['reject'], stage?: number): number {
    // A staged request may be taken back and sent again later, so only a plain execution takes handed-over buffers.
    const packed = packBatch(requests.length === 1 ? [requests[0].inputs] : requests.map((r) => r.inputs), stage === undefined);
    const wire: WireRequest[] = requests.map((r, i) => wireRequest(r, packed.slots[i]));
    const seq = ++this.seq;
    this.pending.set(seq, { resolve, reject, at: performance.now() });
    const { buffer, given } = packed;
    // Fields left out rather than undefined: the message is cloned key by key on both threads.
    const msg: ExecuteMessage = { type: 'execute', seq, requests: wire, buffer };
    if (given) msg.given = given;
    if (stage !== undefined) msg.stage = stage;
    this.queueExecution(msg, given ? [buffer, ...given] : [buffer]);
    return seq;
  }

  stream(request: ExecuteRequest, signal: AbortSignal): AsyncIterableIterator<StreamItem> {
    return new WorkerStream(this, request, signal);
  }

  /** @internal WorkerStream's start: the stream's messages go to `st` from now on; its sequence number. */
  openStream(st: WorkerStream, request: ExecuteRequest, credits: SharedArrayBuffer): number {
    const seq = ++this.seq;
    this.streams.set(seq, st);
    this.unanswered.set(seq, performance.now());
    const packed = packTensors(request.inputs);
    this.send({
      type: 'stream', seq, buffer: packed.buffer, credits,
      request: wireRequest(request, packed.slots),
    }, [packed.buffer]);
    answerDue(this.answerMs);
    return seq;
  }

  /** @internal The worker stops the stream (its end still comes back). */
  cancelStream(seq: number): void {
    if (this.streams.has(seq)) this.send({ type: 'cancel', seq });
  }

  /** @internal The stream's consumer is gone (or it ended): the worker stops it unless it already ended. */
  closeStream(seq: number, cancel: boolean): void {
    if (this.streams.delete(seq) && cancel) this.send({ type: 'cancel', seq });
  }

  /** @internal */
  get state(): { restarting?: Promise<void>; down?: InferenceError } {
    return { restarting: this.restarting, down: this.down };
  }

  async close(): Promise<void> {
    if (this.restarting) await this.restarting;
    unregisterOwer(this);
    if (this.down) return;
    this.down = new InferenceError('UNAVAILABLE', `model instance '${this.name}' is unloaded`);
    const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
    this.send({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await closed;
    clearTimeout(timer);
    await this.worker.terminate();
  }
}

/** A request as the worker gets it: absent fields left out, so the clone skips them. */
function wireRequest(r: ExecuteRequest, inputs: WireRequest['inputs']): WireRequest {
  const w: WireRequest = { inputs, parameters: r.parameters };
  if (r.id !== undefined) w.id = r.id;
  if (r.outputs !== undefined) w.outputs = r.outputs;
  return w;
}

/**
 * One stream's responses from the worker, read straight off its queue: a plain iterator rather than an
 * async generator (every token passes here). The request goes to the worker at the first read.
 */
class WorkerStream implements AsyncIterableIterator<StreamItem> {
  readonly queue = new AsyncQueue<StreamItem>();
  private seq = 0;
  private reads = 0;
  private taken = 0;
  private credits: Int32Array | undefined;
  /** Let go of: no more messages are routed here. */
  private closed = false;
  /** The consumer stopped reading. */
  private returned = false;
  /** Ended from outside: the worker stops the stream, and its end still comes through the queue. */
  private readonly onAbort = () => {
    if (!this.closed) this.inst.cancelStream(this.seq);
  };

  constructor(
    private readonly inst: WorkerInstance,
    private readonly request: ExecuteRequest,
    private readonly signal: AbortSignal,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<StreamItem>> {
    if (this.reads++ === 0) return this.start();
    if (this.returned) return Promise.resolve(DONE);
    // The consumer came back for more: once it has taken a refill's worth, the worker may produce that
    // many more (a shared counter: no message, and no wake-up unless the worker waits at 0).
    if (++this.taken === STREAM_REFILL && this.credits) {
      this.taken = 0;
      Atomics.add(this.credits, 0, STREAM_REFILL);
      Atomics.notify(this.credits, 0);
    }
    return this.queue.next();
  }

  return(): Promise<IteratorResult<StreamItem>> {
    this.returned = true;
    this.stop();
    return Promise.resolve(DONE);
  }

  private start(): Promise<IteratorResult<StreamItem>> {
    const { restarting, down } = this.inst.state;
    if (restarting) return restarting.then(() => this.start());
    if (down) {
      this.closed = true;
      return Promise.reject(down);
    }
    if (this.returned) return Promise.resolve(DONE);
    const credits = new Int32Array(new SharedArrayBuffer(4));
    credits[0] = STREAM_WINDOW;
    this.credits = credits;
    this.seq = this.inst.openStream(this, this.request, credits.buffer as SharedArrayBuffer);
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    return this.queue.next();
  }

  /** The worker ended the stream (or crashed): what is queued is still read, then the end or err. */
  finish(err?: InferenceError): void {
    this.queue.end(err);
    this.stop();
  }

  /** Done with the stream: the worker is told to stop it unless it already ended. */
  private stop(): void {
    if (this.closed) return;
    this.closed = true;
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.seq) this.inst.closeStream(this.seq, !this.queue.ended);
  }
}
