// Per-model-version queue in front of a pool of instances: each idle instance takes the next
// request; requests whose client went away are dropped before they run.

import { InferenceError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteRequest, ModelInstance, StreamItem } from '../backends/backend.js';

interface Job {
  request: ExecuteRequest;
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

  constructor(
    readonly label: string,
    readonly instances: readonly ModelInstance[],
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
      this.queue.push({ request, signal, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const job = this.queue.shift()!;
      if (job.signal?.aborted) {
        job.reject(new InferenceError('CANCELLED', `request to ${this.label} was cancelled before it ran`));
        continue;
      }
      const inst = this.idle.pop()!;
      this.inFlight++;
      inst.execute([job.request]).then(
        ([r]) => (r instanceof InferenceError ? job.reject(r) : job.resolve(r)),
        (e: Error) => job.reject(e),
      ).finally(() => {
        this.inFlight--;
        this.idle.push(inst);
        this.dispatch();
        if (this.pending === 0) this.drained?.();
      });
    }
  }

  /** Stop taking requests, let queued and running ones finish, then close every instance. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.pending > 0) await new Promise<void>((r) => (this.drained = r));
    await Promise.all(this.instances.map((i) => i.close().catch(() => {})));
  }
}
