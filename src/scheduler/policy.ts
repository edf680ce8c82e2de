// The queue policy (Triton's ModelQueuePolicy) as both request paths apply it: submitted jobs
// (scheduler.ts) and decoupled streams (stream.ts).

import { InferenceError } from '../core/errors.js';

/** setTimeout fires at once for delays past 2^31-1 ms (~24.8 days); a later limit is no limit in practice. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface QueuePolicy {
  /** 0: unbounded. */
  maxQueueSize: number;
  /** 0: no timeout. */
  defaultTimeoutUs: number;
  allowTimeoutOverride: boolean;
  /** REJECT fails a request whose timeout passes in the queue; DELAY lets it wait on. */
  timeoutAction: 'REJECT' | 'DELAY';
}

export const NO_POLICY: QueuePolicy = { maxQueueSize: 0, defaultTimeoutUs: 0, allowTimeoutOverride: true, timeoutAction: 'REJECT' };

/** The request's own timeout when the policy lets it override, else the policy's default (0: none). */
export function queueTimeoutUs(policy: QueuePolicy, requestedUs: number | undefined): number {
  return requestedUs !== undefined && requestedUs > 0 && policy.allowTimeoutOverride ? requestedUs : policy.defaultTimeoutUs;
}

export function queueFull(label: string, policy: QueuePolicy): InferenceError {
  return new InferenceError('UNAVAILABLE', `${label}: the queue is full (max_queue_size ${policy.maxQueueSize}); try again later`);
}
