// What the layers below the protocols know of tracing: a recorder of stage timings. The
// OpenTelemetry side lives in metrics/tracing.ts; with tracing off there is no recorder at all.

export type TraceStage = 'decode' | 'queue' | 'compute' | 'encode';

export interface TraceRecorder {
  /** A finished stage, times in epoch milliseconds (fractions allowed). */
  record(stage: TraceStage, startMs: number, endMs: number): void;
}

/** Epoch milliseconds with sub-millisecond precision. */
export const nowMs = () => performance.timeOrigin + performance.now();
