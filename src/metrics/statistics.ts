// Triton's statistics extension, per model version: counts and cumulative nanoseconds for each
// stage, and per-batch-size compute times. REST /stats and gRPC ModelStatistics read the same numbers.

export interface Duration {
  count: number;
  ns: number;
}

export interface ExecutionTiming {
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

const dur = (): Duration => ({ count: 0, ns: 0 });
const add = (d: Duration, ns: number, n = 1) => {
  d.count += n;
  d.ns += Math.max(0, Math.round(ns));
};

interface BatchStat {
  computeInput: Duration;
  computeInfer: Duration;
  computeOutput: Duration;
}

export class ModelStats {
  inferenceCount = 0;
  executionCount = 0;
  /** Milliseconds since the epoch of the last inference; 0 before the first. */
  lastInference = 0;
  readonly success = dur();
  readonly fail = dur();
  readonly queue = dur();
  readonly computeInput = dur();
  readonly computeInfer = dur();
  readonly computeOutput = dur();
  readonly batches = new Map<number, BatchStat>();

  /** A request that completed; `ns` from its arrival to its response. */
  recordSuccess(ns: number): void {
    add(this.success, ns);
    this.lastInference = Date.now();
  }

  recordFail(ns: number): void {
    add(this.fail, ns);
  }

  /**
   * One model execution holding `rows` rows in all, of which the requests in `succeeded` succeeded.
   * Like Triton, execution_count and batch_stats count every execution, while inference_count and the
   * request-level queue and compute stats count successful requests only (a failed request counts in
   * `fail` alone); each request is charged the whole batch's compute time.
   */
  recordExecution(rows: number, t: ExecutionTiming, succeeded: readonly { rows: number; queueNs: number }[]): void {
    this.executionCount++;
    const requests = succeeded.length;
    for (const r of succeeded) {
      this.inferenceCount += r.rows;
      add(this.queue, r.queueNs);
    }
    add(this.computeInput, t.inputNs * requests, requests);
    add(this.computeInfer, t.inferNs * requests, requests);
    add(this.computeOutput, t.outputNs * requests, requests);
    let b = this.batches.get(rows);
    if (!b) {
      b = { computeInput: dur(), computeInfer: dur(), computeOutput: dur() };
      this.batches.set(rows, b);
    }
    add(b.computeInput, t.inputNs);
    add(b.computeInfer, t.inferNs);
    add(b.computeOutput, t.outputNs);
  }

  /** Triton's ModelStatistics in its JSON form (what REST /stats returns). */
  toJson(name: string, version: string): Record<string, unknown> {
    const d = (x: Duration) => ({ count: x.count, ns: x.ns });
    return {
      name,
      version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: d(this.success),
        fail: d(this.fail),
        queue: d(this.queue),
        compute_input: d(this.computeInput),
        compute_infer: d(this.computeInfer),
        compute_output: d(this.computeOutput),
        cache_hit: d(dur()),
        cache_miss: d(dur()),
      },
      batch_stats: [...this.batches.entries()].sort((a, b) => a[0] - b[0]).map(([size, b]) => ({
        batch_size: size,
        compute_input: d(b.computeInput),
        compute_infer: d(b.computeInfer),
        compute_output: d(b.computeOutput),
      })),
      memory_usage: [],
      response_stats: {},
    };
  }
}
