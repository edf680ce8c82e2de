// Which queued requests may run together: the dynamic batcher concatenates along dim 0, so
// inputs must agree on everything else, and the requests must want the same outputs.

import type { ExecuteRequest } from '../backends/backend.js';

/** Rows a request contributes to a batch (its dim 0). */
export const rowsOf = (r: ExecuteRequest) => r.inputs[0]?.shape[0] ?? 1;

/** A key equal for exactly the requests that can share a batch. */
export function batchKey(r: ExecuteRequest): string {
  const inputs = r.inputs
    .map((t) => `${t.name}:${t.datatype}:${t.shape.slice(1).join('x')}`)
    .sort()
    .join('|');
  const outputs = r.outputs ? r.outputs.slice().sort().join(',') : '*';
  return `${inputs}>${outputs}`;
}

export interface BatchPolicy {
  maxBatchSize: number;
  /** Dispatch as soon as a batch reaches one of these sizes (largest first). */
  preferred: number[];
  /** How long the oldest request may wait for others, in ms. */
  maxDelayMs: number;
}

/** How pickBatch reads the items of a queue: the scheduler's jobs cache their key. */
export interface BatchView<T> {
  rows(item: T): number;
  key(item: T): string;
}

/** The policy's preferred sizes that fit, largest first: worked out once per policy, not per dispatch. */
const PREFERRED = new WeakMap<BatchPolicy, number[]>();
function preferredOf(policy: BatchPolicy): number[] {
  let p = PREFERRED.get(policy);
  if (!p) PREFERRED.set(policy, (p = policy.preferred.filter((n) => n <= policy.maxBatchSize).sort((a, b) => b - a)));
  return p;
}

const REQUESTS: BatchView<ExecuteRequest> = { rows: rowsOf, key: batchKey };

/**
 * Pick the next batch from the queue: the oldest request and the compatible ones behind it, up to
 * the largest size that fits. Returns the indexes taken and whether the batch should go now.
 */
export function pickBatch<T = ExecuteRequest>(queue: readonly T[], policy: BatchPolicy, oldestWaitedMs: number,
  view: BatchView<T> = REQUESTS as unknown as BatchView<T>): { take: number[]; ready: boolean; rows: number } {
  const take = [0];
  const sums = [view.rows(queue[0])];
  let rows = sums[0];
  // Keys are built only when a second request is there to compare (not at c=1).
  let key: string | undefined;
  for (let i = 1; i < queue.length && rows < policy.maxBatchSize; i++) {
    const r = view.rows(queue[i]);
    if (rows + r <= policy.maxBatchSize && view.key(queue[i]) === (key ??= view.key(queue[0]))) {
      take.push(i);
      rows += r;
      sums.push(rows);
    }
  }
  // Like Triton: the largest preferred size the queue can fill exactly goes at once.
  if (policy.preferred.length) {
    for (const p of preferredOf(policy)) {
      const k = sums.indexOf(p);
      if (k >= 0) return { take: take.slice(0, k + 1), ready: true, rows: p };
    }
  }
  // Otherwise a full batch goes at once, and anything else when the oldest request has waited enough.
  return { take, ready: rows >= policy.maxBatchSize || oldestWaitedMs >= policy.maxDelayMs, rows };
}
