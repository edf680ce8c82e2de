// What the scheduler sees of a model instance, whatever runs it. Every backend runs in a worker thread.

import type { InferenceError } from '../core/errors.js';
import type { IoMeta, ModelConfig } from '../core/model-config.js';
import type { Parameters, Tensor } from '../core/tensor.js';

/** A key of the backend table (registry.ts). */
export type BackendKind = string;

export interface LoadSpec {
  kind: BackendKind;
  modelName: string;
  version: string;
  modelDir: string;
  versionDir: string;
  modelFile: string;
  config: ModelConfig;
  instanceName: string;
  /** Use the CUDA execution provider (falls back to CPU when the machine has none). */
  gpu: boolean;
}

export type { IoMeta };

export interface LoadResult {
  /** Inputs and outputs the model file itself declares, when the backend can tell. */
  inputs?: IoMeta[];
  outputs?: IoMeta[];
  /** Notes worth logging, e.g. a fallback from CUDA to CPU. */
  notes?: string[];
}

export interface ExecuteRequest {
  id?: string;
  inputs: Tensor[];
  /** Output names to compute; all when absent. */
  outputs?: string[];
  parameters: Parameters;
}

export type ExecuteResult = Tensor[] | InferenceError;

/** One response of a decoupled model's stream. */
export interface StreamItem {
  outputs: Tensor[];
  parameters?: Parameters;
}

/** Where an execution's time went, measured in the worker (nanoseconds). */
export interface ExecutionTiming {
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

export interface ExecuteBatchResult {
  /** One per request, in order. */
  results: ExecuteResult[];
  timing?: ExecutionTiming;
}

/**
 * A request handed to a busy instance ahead of its turn, so the instance starts it the moment it is
 * free instead of a thread round trip later. Until it starts it can be taken back: the scheduler
 * still treats it as queued (cancellable, timed, counted against the queue size).
 */
export interface StagedRequest {
  /** True once the instance has started it (it can no longer be taken back). */
  started(): boolean;
  /** Takes it back if it has not started: true when that happened (then `result` never settles). */
  revoke(): boolean;
  /** As execute()'s, for a request that started. */
  result: Promise<ExecuteBatchResult>;
}

export interface ModelInstance {
  readonly name: string;
  readonly loadResult: LoadResult;
  /** One result per request, in order; a failed request does not fail the others. */
  execute(requests: ExecuteRequest[]): Promise<ExecuteBatchResult>;
  /**
   * True when execute() may be called again before the last one settled: the executions queue and run
   * in order. The scheduler then gives a busy moment's full batches at once (absent: one at a time).
   */
  readonly pipelined?: boolean;
  /** Optional: hand over one request while the instance is busy (see StagedRequest); undefined when it cannot take one now. */
  stage?(request: ExecuteRequest): StagedRequest | undefined;
  /** Decoupled models: the responses of one request as they are produced; ends at the final flag. */
  stream(request: ExecuteRequest, signal: AbortSignal): AsyncIterable<StreamItem>;
  close(): Promise<void>;
}
