// Messages between the main thread and a backend worker.

import type { ErrorCode } from '../core/errors.js';
import type { Parameters } from '../core/tensor.js';
import type { ExecutionTiming, LoadResult, LoadSpec } from './backend.js';
import type { TensorSlot } from './wire.js';

/**
 * Responses a stream may have in flight before the consumer acknowledges: bounds buffering for slow
 * readers. Acks are credits added to an Int32 shared with the worker, not messages: a postMessage
 * wakes the other thread, which cost the main thread ~20 µs per token when every fourth token sent one.
 */
export const STREAM_WINDOW = 8;
/** The consumer adds credits in refills of this many responses. */
export const STREAM_REFILL = STREAM_WINDOW / 2;

export interface WireRequest {
  id?: string;
  inputs: TensorSlot[];
  outputs?: string[];
  parameters: Parameters;
}

/** With `stage`, the request is staged: it runs only if the worker claims that id (id -> -id) before the main thread revokes it (id -> 0). */
/** `given`: buffers the request handed over, which slots point into (see wire.ts). */
export interface ExecuteMessage { type: 'execute'; seq: number; requests: WireRequest[]; buffer: ArrayBuffer; given?: ArrayBuffer[]; stage?: number }

export type ToWorker =
  /** `stage`: one Int32 shared with the main thread, holding the staged request's id (see StagedRequest). */
  | { type: 'load'; spec: LoadSpec; stage: SharedArrayBuffer }
  | ExecuteMessage
  /** Executions posted in one tick travel together (one wake of the worker); they run in order. */
  | { type: 'executions'; list: ExecuteMessage[] }
  /**
   * `credits`: one Int32 shared with the main thread, the responses the worker may still send; it starts
   * at STREAM_WINDOW, the consumer adds to it (and notifies) as it takes them, the worker waits at 0.
   */
  | { type: 'stream'; seq: number; request: WireRequest; buffer: ArrayBuffer; credits: SharedArrayBuffer }
  | { type: 'cancel'; seq: number }
  | { type: 'close' };

export interface WireError { code: ErrorCode; message: string }

export type WireResult = { outputs: TensorSlot[] } | { error: WireError };

export type FromWorker =
  | { type: 'loaded'; result: LoadResult }
  | { type: 'load-failed'; error: WireError }
  | { type: 'results'; seq: number; results: WireResult[]; buffer: ArrayBuffer; timing: ExecutionTiming }
  | { type: 'stream-item'; seq: number; outputs: TensorSlot[]; parameters?: Parameters; buffer: ArrayBuffer }
  | { type: 'stream-end'; seq: number; error?: WireError }
  | { type: 'closed' };
