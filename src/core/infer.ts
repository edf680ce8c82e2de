// The protocol-neutral inference request and response.

import type { Parameters, Tensor } from './tensor.js';
import type { CancelHook } from './cancel.js';
import type { TraceRecorder } from './trace.js';

export interface RequestedOutput {
  name: string;
  /** Protocol adapters keep their own per-output flags here (e.g. REST binary_data); `classification` is honoured below. */
  parameters?: Parameters;
}

export interface InferRequest {
  modelName: string;
  modelVersion?: string;
  id?: string;
  inputs: Tensor[];
  /** Absent means every output the model has. */
  outputs?: RequestedOutput[];
  parameters: Parameters;
  /** Aborted when the client goes away; queued work is then dropped. */
  signal?: AbortSignal;
  /** The same news without an AbortSignal (cheaper); when present, the queue watches this instead. */
  cancel?: CancelHook;
  /** Absolute deadline (Date.now() milliseconds), e.g. from a gRPC deadline. */
  deadline?: number;
  /** Present when tracing is on: the stages below the protocol record into it. */
  trace?: TraceRecorder;
}

export interface InferResponse {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}
