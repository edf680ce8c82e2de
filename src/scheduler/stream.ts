// A decoupled model's streams, as the scheduler runs them: spread over the instances (a decoupled
// instance interleaves many), counted as queued until their first response, and ended from outside
// (abort, queue timeout, deadline, unload) even while their consumer is stuck.

import { InferenceError } from '../core/errors.js';
import type { ExecuteRequest, ModelInstance, StreamItem } from '../backends/backend.js';
import { MAX_TIMER_MS, queueTimeoutUs, type QueuePolicy } from './policy.js';
import { DONE } from '../core/iter.js';

interface StreamOptions { timeoutUs?: number; deadline?: number }
type Admit = () => { priority: number; policy: QueuePolicy };

interface OpenStream {
  /** Take the stream out of the scheduler now and make its consumer's next read throw err. */
  end(err: InferenceError): void;
}

export class Streams {
  /** Open streams per instance: new ones go to the least busy. */
  private readonly perInstance = new Map<ModelInstance, number>();
  private readonly open = new Set<OpenStream>();
  /** Streams without their first response yet, per priority level (what max_queue_size bounds for streams). */
  private readonly waiting = new Map<number, number>();

  constructor(
    readonly label: string,
    private readonly instances: readonly ModelInstance[],
    /** Called when a stream leaves. */
    private readonly onLeave: () => void,
  ) {}

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  waitingAt(priority: number): number {
    return this.waiting.get(priority) ?? 0;
  }

  /** Ends every open stream with err; returns how many. */
  endAll(err: InferenceError): number {
    const n = this.open.size;
    for (const s of [...this.open]) s.end(err);
    return n;
  }

  /**
   * One stream (see Scheduler.stream). Nothing happens until the first read, which runs `admit` first:
   * it throws to refuse the stream, else gives the priority level and queue policy it runs under.
   */
  run(request: ExecuteRequest, signal: AbortSignal, o: StreamOptions, admit: Admit): AsyncIterableIterator<StreamItem> {
    return new StreamRun(this, request, signal, o, admit);
  }

  /** @internal StreamRun's bookkeeping: the least busy instance, now one stream busier and one more waiting. */
  enter(priority: number, s: OpenStream): ModelInstance {
    let inst = this.instances[0];
    for (const i of this.instances) if ((this.perInstance.get(i) ?? 0) < (this.perInstance.get(inst) ?? 0)) inst = i;
    this.perInstance.set(inst, (this.perInstance.get(inst) ?? 0) + 1);
    this.waiting.set(priority, this.waitingAt(priority) + 1);
    this.open.add(s);
    return inst;
  }

  /** @internal The stream's first response came (or it left before one). */
  started(priority: number): void {
    this.waiting.set(priority, this.waiting.get(priority)! - 1);
  }

  /** @internal The stream left. */
  leave(inst: ModelInstance, s: OpenStream): void {
    this.open.delete(s);
    this.perInstance.set(inst, (this.perInstance.get(inst) ?? 1) - 1);
    this.onLeave();
  }
}

/**
 * One stream's reads. A plain iterator, not an async generator: every token passes through it, and a
 * generator layer costs several promises and microtask turns per item.
 */
class StreamRun implements AsyncIterableIterator<StreamItem>, OpenStream {
  private state: 'new' | 'open' | 'closed' = 'new';
  private priority = 0;
  private inst!: ModelInstance;
  private it!: AsyncIterator<StreamItem>;
  private queued = true;
  private failure: InferenceError | undefined;
  /** Fails the read in progress, if any (a stale one is already settled: then a no-op). */
  private failRead: ((e: unknown) => void) | undefined;
  private inner: AbortController | undefined;
  private queueTimer: ReturnType<typeof setTimeout> | undefined;
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => {
    const r: unknown = this.signal.reason;
    this.end(r instanceof InferenceError ? r : new InferenceError('CANCELLED', `request to ${this.streams.label} was cancelled`));
  };

  constructor(
    private readonly streams: Streams,
    private readonly request: ExecuteRequest,
    private readonly signal: AbortSignal,
    private readonly o: StreamOptions,
    private readonly admit: Admit,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<StreamItem>> {
    if (this.state === 'new') {
      let admitted;
      try {
        admitted = this.admit();
      } catch (e) {
        this.state = 'closed';
        return Promise.reject(e);
      }
      this.open(admitted.priority, admitted.policy);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.state === 'closed') return Promise.resolve(DONE);
    return new Promise<IteratorResult<StreamItem>>((resolve, reject) => {
      this.failRead = reject;
      this.it.next().then((r) => {
        this.firstResponse();
        if (r.done) this.close();
        resolve(r);
      }, (e: unknown) => {
        this.close();
        reject(e);
      });
    });
  }

  /** The consumer stopped reading. */
  return(): Promise<IteratorResult<StreamItem>> {
    if (this.state === 'open') this.close();
    this.state = 'closed';
    return Promise.resolve(DONE);
  }

  /** Take the stream out of the scheduler now and make its consumer's next read throw err. */
  end(err: InferenceError): void {
    if (this.state !== 'open') return;
    this.failure = err;
    this.inner?.abort(err);
    this.close();
    this.failRead?.(err);
  }

  private open(priority: number, policy: QueuePolicy): void {
    this.state = 'open';
    this.priority = priority;
    const { streams, o } = this;
    this.inst = streams.enter(priority, this);
    const timeoutUs = queueTimeoutUs(policy, o.timeoutUs);
    if (timeoutUs > 0 && policy.timeoutAction === 'REJECT' && timeoutUs / 1000 <= MAX_TIMER_MS) {
      this.queueTimer = setTimeout(() => this.end(new InferenceError('DEADLINE_EXCEEDED', `request to ${streams.label} timed out after ${timeoutUs} µs without a first response`)), timeoutUs / 1000);
    }
    if (o.deadline !== undefined && o.deadline - Date.now() <= MAX_TIMER_MS) {
      this.deadlineTimer = setTimeout(() => this.end(new InferenceError('DEADLINE_EXCEEDED', `the deadline of the stream to ${streams.label} passed`)), Math.max(0, o.deadline - Date.now()));
    }
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    // The instance's signal aborts only when the stream is ended from outside (its return() ends it otherwise).
    this.inner = new AbortController();
    this.it = this.inst.stream(this.request, this.inner.signal)[Symbol.asyncIterator]();
  }

  private firstResponse(): void {
    if (!this.queued) return;
    this.queued = false;
    this.streams.started(this.priority);
    clearTimeout(this.queueTimer);
  }

  /** Out of the scheduler; the instance's stream is told to stop unless it already ended. */
  private close(): void {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.firstResponse();
    clearTimeout(this.deadlineTimer);
    this.signal.removeEventListener('abort', this.onAbort);
    this.streams.leave(this.inst, this);
    // Not awaited: after an abort the instance's stream ends once its worker hears of it.
    this.it.return?.().catch(() => {});
  }
}
