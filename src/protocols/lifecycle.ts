// What both front-ends share about ending streams: the idle timeout for readers that stop reading,
// the errors a stream ends with when the server ends it, and how the shutdown grace period is split.

import { InferenceError } from '../core/errors.js';

/** A streaming response whose reader takes no data for this long is cancelled (--stream-idle-timeout). */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 60_000;

/** What a front-end had to cut when it closed: requests and streams it ended before they finished. */
export interface CloseReport {
  cut: number;
}

/**
 * Streams still open this long before the end of the grace period are ended with a final error, so
 * that frame can reach its reader before connections are cut at the end.
 */
export const finalFrameMs = (graceMs: number) => Math.min(1000, graceMs / 4);

export const shutdownError = () =>
  new InferenceError('UNAVAILABLE', 'the server is shutting down: this stream was still open at the end of the shutdown grace period');

export const drainingError = () => new InferenceError('UNAVAILABLE', 'the server is shutting down and takes no new requests');

export const idleTimeoutError = (ms: number) =>
  new InferenceError('CANCELLED', `the stream was cancelled: its reader took no data for ${ms / 1000} s (--stream-idle-timeout)`);

interface Drainable {
  once(event: 'drain', fn: () => void): unknown;
  off(event: 'drain', fn: () => void): unknown;
}

/**
 * Waits for a writer's 'drain': 'drained', 'aborted' when the signal fires first, or 'timeout' when
 * `idleMs` (0: no limit) pass without it.
 */
export function waitForDrain(w: Drainable, signal: AbortSignal, idleMs: number): Promise<'drained' | 'aborted' | 'timeout'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (why: 'drained' | 'aborted' | 'timeout') => {
      clearTimeout(timer);
      w.off('drain', onDrain);
      signal.removeEventListener('abort', onAbort);
      resolve(why);
    };
    const onDrain = () => done('drained');
    const onAbort = () => done('aborted');
    w.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
    if (idleMs > 0) timer = setTimeout(() => done('timeout'), idleMs);
  });
}
