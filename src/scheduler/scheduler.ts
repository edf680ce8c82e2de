// Per-model-version queue in front of a pool of instances: each idle instance takes the next
// request, or with dynamic batching the next batch of compatible requests. The queue is ordered by
// priority, then arrival; it is bounded (max_queue_size); a request leaves it when its client goes
// away or its timeout passes, and is never executed then.

import type { CancelHook } from '../core/cancel.js';
import { InferenceError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteBatchResult, ExecuteRequest, ModelInstance, StagedRequest, StreamItem } from '../backends/backend.js';
import type { ModelStats } from '../metrics/statistics.js';
import { nowMs, type TraceRecorder } from '../core/trace.js';
import { batchKey, pickBatch, rowsOf, type BatchPolicy, type BatchView } from './batcher.js';
import { MAX_TIMER_MS, NO_POLICY, queueFull, queueTimeoutUs, type QueuePolicy } from './policy.js';
import { Streams } from './stream.js';

export type { QueuePolicy } from './policy.js';

/** Executions a pipelined instance is given at once (see dispatch): bounds how far ahead of its turn a batch leaves the queue. */
export const MAX_PIPELINED = 4;

export interface SchedulerOptions {
  batching?: BatchPolicy;
  /** 0: priorities off (every request at one level). */
  priorityLevels?: number;
  defaultPriority?: number;
  policy?: QueuePolicy;
  /** Per priority level, replacing `policy` for that level. */
  levelPolicies?: Map<number, QueuePolicy>;
  stats?: ModelStats;
}

export interface SubmitOptions {
  signal?: AbortSignal;
  /** Watched instead of `signal` when given (no EventTarget listener per queued job). */
  cancel?: CancelHook;
  /** 1 is the highest; 0 or absent means the default level. */
  priority?: number;
  /** The request's own timeout (the `timeout` parameter), honoured when the policy allows it. */
  timeoutUs?: number;
  /** Absolute deadline (Date.now() milliseconds), e.g. a gRPC deadline: always honoured. */
  deadline?: number;
  trace?: TraceRecorder;
}

interface Job {
  request: ExecuteRequest;
  priority: number;
  seq: number;
  enqueuedAt: number;
  /** Nanoseconds it waited in the queue, set when it is dispatched. */
  queuedNs?: number;
  signal?: AbortSignal;
  cancel?: CancelHook;
  trace?: TraceRecorder;
  resolve: (t: Tensor[]) => void;
  reject: (e: Error) => void;
  /** Stops watching for cancellation and timeouts; set only while the job waits in the queue. */
  cleanup?: () => void;
  /** Has a queue timeout or deadline running: it stays in the queue until an instance is free (see dispatch). */
  timed?: boolean;
  /** Handed ahead of its turn to this busy instance; still queued until the instance starts it. */
  stagedOn?: ModelInstance;
  staged?: StagedRequest;
  /** batchKey of the request, built the first time the batcher compares it. */
  key?: string;
}

const JOBS: BatchView<Job> = { rows: (j) => rowsOf(j.request), key: (j) => (j.key ??= batchKey(j.request)) };

export class Scheduler {
  private readonly queue: Job[] = [];
  private readonly idle: ModelInstance[];
  /** Executions in flight per instance (two for a moment when a staged job starts as the last one ends). */
  private readonly running = new Map<ModelInstance, number>();
  /** The job staged on each busy instance (see StagedRequest): without dynamic batching only. */
  private readonly stagedJobs = new Map<ModelInstance, Job>();
  private inFlight = 0;
  private seq = 0;
  private closing = false;
  private drained: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly streams: Streams;

  constructor(
    readonly label: string,
    readonly instances: readonly ModelInstance[],
    private readonly opts: SchedulerOptions = {},
  ) {
    this.idle = instances.slice();
    this.streams = new Streams(label, instances, () => {
      if (this.pending === 0) this.drained?.();
    });
  }

  /** Requests waiting or running (what nv_inference_pending_request_count shows). */
  get pending(): number {
    return this.queue.length + this.inFlight + this.streams.size;
  }

  private policyFor(priority: number): QueuePolicy {
    return this.opts.levelPolicies?.get(priority) ?? this.opts.policy ?? NO_POLICY;
  }

  private levelOf(requested: number | undefined): number {
    const levels = this.opts.priorityLevels ?? 0;
    if (levels <= 0) return 1;
    const p = requested && requested > 0 ? requested : (this.opts.defaultPriority || Math.ceil(levels / 2));
    if (!Number.isInteger(p) || p > levels) {
      throw new InferenceError('INVALID_ARGUMENT', `${this.label}: priority ${requested} is outside 1..${levels} (priority_levels ${levels})`);
    }
    return p;
  }

  submit(request: ExecuteRequest, o: SubmitOptions = {}): Promise<Tensor[]> {
    if (this.closing) return Promise.reject(new InferenceError('UNAVAILABLE', `${this.label} is unloading`));
    if (o.cancel ? o.cancel.cancelled : o.signal?.aborted) return Promise.reject(new InferenceError('CANCELLED', `request to ${this.label} was cancelled`));
    let priority: number;
    try {
      priority = this.levelOf(o.priority);
    } catch (e) {
      return Promise.reject(e);
    }
    const policy = this.policyFor(priority);
    if (policy.maxQueueSize > 0 && this.queuedAt(priority) >= policy.maxQueueSize) return Promise.reject(queueFull(this.label, policy));
    const timeoutUs = policy.timeoutAction === 'REJECT' ? queueTimeoutUs(policy, o.timeoutUs) : 0;
    return new Promise((resolve, reject) => {
      const job: Job = { request, priority, seq: this.seq++, enqueuedAt: performance.now(), signal: o.signal, cancel: o.cancel, trace: o.trace, resolve, reject };
      if (timeoutUs > 0 || o.deadline !== undefined) job.timed = true;
      this.insert(job);
      // A job of a higher priority than one already staged goes before it.
      if (this.stagedJobs.size && (this.opts.priorityLevels ?? 0) > 0) {
        for (const s of [...this.stagedJobs.values()]) if (s.priority > job.priority && !this.unstage(s)) this.promote(s);
      }
      this.dispatch();
      // Only a job left waiting needs to hear of its client going away or its time running out.
      if (job.queuedNs === undefined) this.watch(job, timeoutUs, o.deadline);
    });
  }

  /**
   * Drops a queued job when its signal (or cancel hook) fires, its queue timeout passes or its deadline does. A job with
   * none of these (the common case) costs nothing here: no listener, no timer, no closure.
   */
  private watch(job: Job, timeoutUs: number, deadline: number | undefined): void {
    const timed = timeoutUs > 0 && timeoutUs / 1000 <= MAX_TIMER_MS;
    const late = deadline !== undefined && deadline - Date.now() <= MAX_TIMER_MS;
    if (!job.signal && !job.cancel && !timed && !late) return;
    let timeout: NodeJS.Timeout | undefined;
    let lateTimer: NodeJS.Timeout | undefined;
    const onAbort = () => this.drop(job, new InferenceError('CANCELLED', `request to ${this.label} was cancelled before it ran`));
    if (job.cancel) job.cancel.onCancel(onAbort);
    else job.signal?.addEventListener('abort', onAbort, { once: true });
    if (timed) {
      timeout = setTimeout(() => this.drop(job, new InferenceError('DEADLINE_EXCEEDED',
        `request to ${this.label} timed out after ${timeoutUs} µs in the queue`)), timeoutUs / 1000);
    }
    if (late) {
      lateTimer = setTimeout(() => this.drop(job, new InferenceError('DEADLINE_EXCEEDED',
        `the deadline of the request to ${this.label} passed while it was queued`)), Math.max(0, deadline! - Date.now()));
    }
    job.cleanup = () => {
      clearTimeout(timeout);
      clearTimeout(lateTimer);
      if (job.cancel) job.cancel.offCancel(onAbort);
      else job.signal?.removeEventListener('abort', onAbort);
    };
  }

  private queuedAt(priority: number): number {
    let n = 0;
    for (const j of this.queue) if (j.priority === priority) n++;
    return n;
  }

  /** Keep the queue ordered by priority level, then arrival. */
  private insert(job: Job): void {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid];
      if (q.priority < job.priority || (q.priority === job.priority && q.seq < job.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, job);
  }

  /** Take a still-queued job out and fail it; a job already running is left alone. */
  private drop(job: Job, err: InferenceError): void {
    const i = this.queue.indexOf(job);
    if (i < 0) return;
    // A staged job its instance has already started runs on, as any running job does.
    if (job.stagedOn && !this.unstage(job)) return this.promote(job);
    this.queue.splice(i, 1);
    job.cleanup?.();
    job.reject(err);
    if (this.pending === 0) this.drained?.();
    this.stageNext();
  }

  /** Takes a staged job back into the plain queue; false when its instance has started it. */
  private unstage(job: Job): boolean {
    if (!job.staged!.revoke()) return false;
    this.stagedJobs.delete(job.stagedOn!);
    job.stagedOn = job.staged = undefined;
    return true;
  }

  /** A staged job its instance has started: it leaves the queue and runs. */
  private promote(job: Job): void {
    const inst = job.stagedOn!;
    const staged = job.staged!;
    this.stagedJobs.delete(inst);
    job.stagedOn = job.staged = undefined;
    this.queue.splice(this.queue.indexOf(job), 1);
    this.leaveQueue([job]);
    this.track(inst, [job], staged.result);
  }

  /**
   * Without dynamic batching, each busy instance that can take one gets the next queued job ahead of
   * its turn, so it starts that job the moment it is free instead of a thread round trip later.
   */
  private stageNext(): void {
    if (this.opts.batching) return;
    for (const inst of this.instances) {
      if (!inst.stage || this.stagedJobs.has(inst) || !this.running.get(inst)) continue;
      const job = this.queue.find((j) => !j.stagedOn);
      if (!job) return;
      const staged = inst.stage(job.request);
      if (!staged) continue;
      job.stagedOn = inst;
      job.staged = staged;
      this.stagedJobs.set(inst, job);
    }
  }

  /**
   * A decoupled model's responses to one request. The stream leaves the scheduler as soon as its
   * signal aborts or close() ends it, even while its consumer is stuck (e.g. on a reader that stopped
   * reading); the consumer's next read then throws the reason (an InferenceError) or CANCELLED.
   *
   * The queue policy applies as to submit(): a decoupled instance takes every stream at once, so a
   * stream counts as queued until its first response. max_queue_size bounds those waiting streams per
   * priority level; the queue timeout (policy default or the `timeout` parameter, REJECT) bounds the
   * wait for the first response; `deadline` bounds the whole stream.
   */
  stream(request: ExecuteRequest, signal: AbortSignal, o: SubmitOptions = {}): AsyncIterable<StreamItem> {
    // Checked at the first read, as the stream starts.
    return this.streams.run(request, signal, o, () => {
      if (this.closing) throw new InferenceError('UNAVAILABLE', `${this.label} is unloading`);
      if (signal.aborted) throw new InferenceError('CANCELLED', `request to ${this.label} was cancelled`);
      const priority = this.levelOf(o.priority);
      const policy = this.policyFor(priority);
      if (policy.maxQueueSize > 0 && this.streams.waitingAt(priority) >= policy.maxQueueSize) throw queueFull(this.label, policy);
      return { priority, policy };
    });
  }


  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      let jobs: Job[] | undefined;
      if (!this.opts.batching) {
        // An instance is free before the one the head job is staged on: it takes the job back, unless already started.
        const head = this.queue[0];
        if (head.stagedOn && !this.unstage(head)) {
          this.promote(head);
          continue;
        }
        jobs = [this.queue.shift()!];
      } else {
        jobs = this.nextBatch(false);
        if (!jobs) return;
      }
      const inst = this.idle.pop()!;
      this.leaveQueue(jobs);
      this.run(inst, jobs);
      // A model with one instance and full batches still queued: the instance takes them now, to run in
      // order after the first; they travel with it in one message (one thread wake instead of several).
      // With several instances they stay queued for whichever frees up first; with priority levels, for a
      // later request that may go before them.
      if (this.opts.batching && inst.pipelined && this.instances.length === 1 && !(this.opts.priorityLevels! > 0)) {
        for (let k = 1; k < MAX_PIPELINED && this.queue.length > 0; k++) {
          const more = this.nextBatch(true);
          if (!more) break;
          this.leaveQueue(more);
          this.run(inst, more);
        }
      }
    }
    this.stageNext();
  }

  /**
   * The next batch to run, taken out of the queue; undefined when it should wait (a timer then
   * dispatches again) or, with `fullOnly`, when it would not be full.
   */
  private nextBatch(fullOnly: boolean): Job[] | undefined {
    const batching = this.opts.batching!;
    const waited = performance.now() - this.queue[0].enqueuedAt;
    const { take, ready, rows } = pickBatch(this.queue, batching, waited, JOBS);
    // A batch taken ahead of its turn is running: a request that could still time out in the queue is not taken.
    if (fullOnly && (rows < batching.maxBatchSize || take.some((i) => this.queue[i].timed))) return undefined;
    if (!ready) {
      // Wait for more requests, but no longer than the oldest one may.
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, Math.max(0, batching.maxDelayMs - waited));
      return undefined;
    }
    // The usual batch: the head of the queue.
    if (take[take.length - 1] === take.length - 1) return this.queue.splice(0, take.length);
    const jobs = take.map((i) => this.queue[i]);
    for (let k = take.length - 1; k >= 0; k--) this.queue.splice(take[k], 1);
    return jobs;
  }

  private leaveQueue(jobs: Job[]): void {
    const now = performance.now();
    for (const j of jobs) {
      j.cleanup?.();
      j.queuedNs = (now - j.enqueuedAt) * 1e6;
      j.trace?.record('queue', performance.timeOrigin + j.enqueuedAt, performance.timeOrigin + now);
    }
  }

  private run(inst: ModelInstance, jobs: Job[]): void {
    let out: Promise<ExecuteBatchResult>;
    try {
      out = inst.execute(jobs.length === 1 ? [jobs[0].request] : jobs.map((j) => j.request));
    } catch (e) {
      out = Promise.reject(e);
    }
    this.track(inst, jobs, out);
  }

  private track(inst: ModelInstance, jobs: Job[], out: Promise<ExecuteBatchResult>): void {
    this.inFlight += jobs.length;
    this.running.set(inst, (this.running.get(inst) ?? 0) + 1);
    const started = nowMs();
    // The instance goes back to the pool as soon as its results are in, before the callers' continuations run.
    const finish = () => {
      this.inFlight -= jobs.length;
      // Its staged job has started by now (the worker claims it before replying), or goes back to the queue.
      const next = this.stagedJobs.get(inst);
      if (next && (next.staged!.started() || !this.unstage(next))) this.promote(next);
      const n = this.running.get(inst)! - 1;
      this.running.set(inst, n);
      if (n === 0) this.idle.push(inst);
      this.dispatch();
      if (this.pending === 0) this.drained?.();
    };
    out.then(
      (r) => {
        try {
          this.settle(jobs, r, started);
        } finally {
          finish();
        }
      },
      (e: Error) => {
        for (const j of jobs) j.reject(e);
        finish();
      },
    );
  }

  private settle(jobs: Job[], { results, timing }: ExecuteBatchResult, started: number): void {
    if (jobs.some((j) => j.trace)) {
      const ended = nowMs();
      for (const j of jobs) j.trace?.record('compute', started, ended);
    }
    if (timing) {
      // Like Triton: the execution counts whatever its outcome; inferences, queue and compute time count for the requests that succeeded.
      const succeeded: { rows: number; queueNs: number }[] = [];
      let rows = 0;
      jobs.forEach((j, i) => {
        const n = rowsOf(j.request);
        rows += n;
        if (!(results[i] instanceof InferenceError)) succeeded.push({ rows: n, queueNs: j.queuedNs ?? 0 });
      });
      this.opts.stats?.recordExecution(rows, timing, succeeded);
    }
    jobs.forEach((j, i) => {
      const r = results[i];
      if (r instanceof InferenceError) j.reject(r);
      else j.resolve(r);
    });
  }

  /**
   * Stop taking requests, let queued and running ones finish, then close every instance. Streams
   * still open after `graceMs` are ended with UNAVAILABLE (saying `why`); with `force` (shutdown), so
   * are queued requests, and running ones are not waited for. Returns how many streams were ended.
   */
  async close(graceMs = Infinity, why = 'is unloading', force = false): Promise<number> {
    this.closing = true;
    let ended = 0;
    if (this.pending > 0) {
      const drained = new Promise<void>((r) => (this.drained = r));
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((r) => {
        if (Number.isFinite(graceMs)) timer = setTimeout(r, graceMs);
      });
      await Promise.race([drained, graceOver]);
      clearTimeout(timer);
      if (this.pending > 0) {
        const err = new InferenceError('UNAVAILABLE', `${this.label} ${why}: the stream was ended after the ${graceMs / 1000} s grace period`);
        ended = this.streams.endAll(err);
        if (force) {
          for (const j of [...this.stagedJobs.values()]) if (!this.unstage(j)) this.promote(j);
          for (const j of this.queue.splice(0)) {
            j.cleanup?.();
            j.reject(new InferenceError('UNAVAILABLE', `${this.label} ${why}: the request was still queued at the end of the grace period`));
          }
        } else {
          await drained;
        }
      }
    }
    clearTimeout(this.timer);
    await Promise.all(this.instances.map((i) => i.close().catch(() => {})));
    return ended;
  }
}
