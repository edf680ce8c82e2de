// Latency statistics for `duet bench`: nearest-rank percentiles over every measured request.

export interface LatencySummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * The p-th percentile (0 < p <= 100) of an ascending array by the nearest-rank method: the smallest
 * value with at least p % of the values at or below it, i.e. sorted[ceil(p/100 * n) - 1].
 * Every answer is a latency that was measured, never an interpolation. NaN for an empty array.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  // The epsilon keeps p/100*n from landing just above an integer through floating-point error (e.g. 0.9 * 10).
  const rank = Math.max(1, Math.ceil((p / 100) * n - 1e-9));
  return sorted[Math.min(n, rank) - 1];
}

/** Summary of latencies in any order (the array is sorted in place). */
export function summarize(latencies: Float64Array | number[]): LatencySummary {
  const a = latencies instanceof Float64Array ? latencies : Float64Array.from(latencies);
  a.sort();
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i];
  return {
    count: a.length,
    mean: a.length ? sum / a.length : NaN,
    min: a.length ? a[0] : NaN,
    p50: percentile(a, 50),
    p90: percentile(a, 90),
    p99: percentile(a, 99),
    max: a.length ? a[a.length - 1] : NaN,
  };
}

/** Concatenate the latency arrays the load-generator threads send back. */
export function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
