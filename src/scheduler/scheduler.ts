// Per-model-version queue in front of a pool of instances: each idle instance takes the next
// request, or with dynamic batching the next batch of compatible requests; requests whose client
// went away are dropped before they run.

import { InferenceError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteRequest, ModelInstance, StreamItem } from '../backends/backend.js';
import { pickBatch, type BatchPolicy } from './batcher.js';

interface Job {
  request: ExecuteRequest;
  enqueuedAt: number;
  signal?: AbortSignal;
  resolve: (t: Tensor[]) => void;
  reject: (e: Error) => void;
}

export class Scheduler {
  private readonly queue: Job[] = [];
  private readonly idle: ModelInstance[];
  private inFlight = 0;
  private closing = false;
  private drained: (() => void) | undefined;

  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly label: string,
    readonly instances: readonly ModelInstance[],
    /** Dynamic batching; without it each request runs alone. */
    private readonly batching?: BatchPolicy,
  ) {
    this.idle = instances.slice();
  }

  /** Open streams per instance: a decoupled instance interleaves many; new ones go to the least busy. */
  private readonly streams = new Map<ModelInstance, number>();
  private openStreams = 0;

  get pending(): number {
    return this.queue.length + this.inFlight + this.openStreams;
  }

  /** A decoupled model's responses to one request. */
  async *stream(request: ExecuteRequest, signal: AbortSignal): AsyncIterable<StreamItem> {
    if (this.closing) throw new InferenceError('UNAVAILABLE', `${this.label} is unloading`);
    if (signal.aborted) throw new InferenceError('CANCELLED', `request to ${this.label} was cancelled`);
    let inst = this.instances[0];
    for (const i of this.instances) if ((this.streams.get(i) ?? 0) < (this.streams.get(inst) ?? 0)) inst = i;
    this.streams.set(inst, (this.streams.get(inst) ?? 0) + 1);
    this.openStreams++;
    try {
      yield* inst.stream(request, signal);
    } finally {
      this.streams.set(inst, (this.streams.get(inst) ?? 1) - 1);
      this.openStreams--;
      if (this.pending === 0) this.drained?.();
    }
  }

  submit(request: ExecuteRequest, signal?: AbortSignal): Promise<Tensor[]> {
    if (this.closing) return Promise.reject(new InferenceError('UNAVAILABLE', `${this.label} is unloading`));
    if (signal?.aborted) return Promise.reject(new InferenceError('CANCELLED', `request to ${this.label} was cancelled`));
    return new Promise((resolve, reject) => {
      this.queue.push({ request, signal, resolve, reject, enqueuedAt: performance.now() });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const head = this.queue[0];
      if (head.signal?.aborted) {
        this.queue.shift();
        head.reject(new InferenceError('CANCELLED', `request to ${this.label} was cancelled before it ran`));
        continue;
      }
      let jobs: Job[];
      if (!this.batching) {
        jobs = [this.queue.shift()!];
      } else {
        const waited = performance.now() - head.enqueuedAt;
        const { take, ready } = pickBatch(this.queue.map((j) => j.request), this.batching, waited);
        if (!ready) {
          // Wait for more requests, but no longer than the oldest one may.
          this.timer ??= setTimeout(() => {
            this.timer = undefined;
            this.dispatch();
          }, Math.max(0, this.batching.maxDelayMs - waited));
          return;
        }
        const taken = take.map((i) => this.queue[i]);
        for (const i of take.reverse()) this.queue.splice(i, 1);
        jobs = [];
        for (const j of taken) {
          if (j.signal?.aborted) j.reject(new InferenceError('CANCELLED', `request to ${this.label} was cancelled before it ran`));
          else jobs.push(j);
        }
        if (jobs.length === 0) continue;
      }
      this.run(this.idle.pop()!, jobs);
    }
  }

  private run(inst: ModelInstance, jobs: Job[]): void {
    this.inFlight += jobs.length;
    inst.execute(jobs.map((j) => j.request)).then(
      (results) => jobs.forEach((j, i) => {
        const r = results[i];
        if (r instanceof InferenceError) j.reject(r);
        else j.resolve(r);
      }),
      (e: Error) => jobs.forEach((j) => j.reject(e)),
    ).finally(() => {
      this.inFlight -= jobs.length;
      this.idle.push(inst);
      this.dispatch();
      if (this.pending === 0) this.drained?.();
    });
  }

  /** Stop taking requests, let queued and running ones finish, then close every instance. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.pending > 0) await new Promise<void>((r) => (this.drained = r));
    await Promise.all(this.instances.map((i) => i.close().catch(() => {})));
  }
}
