// A decoupled model's streams, as the scheduler runs them: spread over the instances (a decoupled
// instance interleaves many), counted as queued until their first response, and ended from outside
// (abort, queue timeout, deadline, unload) even while their consumer is stuck.

import { InferenceError } from '../core/errors.js';
import type { ExecuteRequest, ModelInstance, StreamItem } from '../backends/backend.js';
import { MAX_TIMER_MS, queueTimeoutUs, type QueuePolicy } from './policy.js';

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
    private readonly label: string,
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

  /** One stream, admitted by the scheduler at `priority` under `policy` (see Scheduler.stream). */
  async *run(request: ExecuteRequest, signal: AbortSignal, priority: number, policy: QueuePolicy, o: { timeoutUs?: number; deadline?: number }): AsyncIterable<StreamItem> {
    let inst = this.instances[0];
    for (const i of this.instances) if ((this.perInstance.get(i) ?? 0) < (this.perInstance.get(inst) ?? 0)) inst = i;
    this.perInstance.set(inst, (this.perInstance.get(inst) ?? 0) + 1);
    this.waiting.set(priority, this.waitingAt(priority) + 1);
    let queued = true;
    const started = () => {
      if (!queued) return;
      queued = false;
      this.waiting.set(priority, this.waiting.get(priority)! - 1);
      clearTimeout(queueTimer);
    };
    const inner = new AbortController();
    let failure: InferenceError | undefined;
    /** Fails the read in progress, if any (a stale one is already settled: then a no-op). */
    let failRead: ((e: unknown) => void) | undefined;
    const open: OpenStream = {
      end: (err) => {
        if (inner.signal.aborted) return;
        failure = err;
        release();
        inner.abort(err);
        failRead?.(err);
      },
    };
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      started();
      clearTimeout(deadlineTimer);
      this.open.delete(open);
      this.perInstance.set(inst, (this.perInstance.get(inst) ?? 1) - 1);
      this.onLeave();
    };
    this.open.add(open);
    const timeoutUs = queueTimeoutUs(policy, o.timeoutUs);
    const queueTimer = timeoutUs > 0 && policy.timeoutAction === 'REJECT' && timeoutUs / 1000 <= MAX_TIMER_MS
      ? setTimeout(() => open.end(new InferenceError('DEADLINE_EXCEEDED', `request to ${this.label} timed out after ${timeoutUs} µs without a first response`)), timeoutUs / 1000)
      : undefined;
    const deadlineTimer = o.deadline !== undefined && o.deadline - Date.now() <= MAX_TIMER_MS
      ? setTimeout(() => open.end(new InferenceError('DEADLINE_EXCEEDED', `the deadline of the stream to ${this.label} passed`)), Math.max(0, o.deadline - Date.now()))
      : undefined;
    const onAbort = () => open.end(signal.reason instanceof InferenceError ? signal.reason : new InferenceError('CANCELLED', `request to ${this.label} was cancelled`));
    signal.addEventListener('abort', onAbort, { once: true });
    const it = inst.stream(request, inner.signal)[Symbol.asyncIterator]();
    // The instance's next response, or the failure as soon as the stream is ended (per response: one
    // promise, no listener on the signal).
    const next = () => new Promise<IteratorResult<StreamItem>>((resolve, reject) => {
      if (inner.signal.aborted) return reject(failure);
      failRead = reject;
      it.next().then(resolve, reject);
    });
    try {
      for (;;) {
        const n = await next();
        started();
        if (n.done) return;
        yield n.value;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      release();
      // Not awaited: after an abort the instance's stream ends once its worker hears of it.
      it.return?.().catch(() => {});
    }
  }
}
