// The API a TypeScript (or JavaScript) model is written against: the idea of Triton's Python backend.
//
//   export default class MyModel implements Model {
//     async initialize(args: InitializeArgs) {}
//     async execute(requests: ModelRequest[]): Promise<ModelResponse[]> {}
//     async finalize() {}
//   }

import { bytesOf, type DataType, type TypedArray } from '../../core/datatypes.js';
import type { ModelConfig } from '../../core/model-config.js';
import { encodeBytes, type Parameters, type Tensor } from '../../core/tensor.js';
import { TensorView } from '../../core/tensor-view.js';

export type { DataType, ModelConfig, Parameters, TypedArray };

export interface InitializeArgs {
  config: ModelConfig;
  modelName: string;
  version: string;
  modelDir: string;
  versionDir: string;
  instanceName: string;
}

/** An input tensor as a model sees it, with zero-copy accessors: typed(), bytes(), strings(), values(). */
export class ModelTensor extends TensorView {}

export interface ModelRequest {
  id?: string;
  parameters: Parameters;
  /** Names of the outputs the client asked for; undefined means all. */
  requestedOutputs?: string[];
  inputs: Record<string, ModelTensor>;
}

/** An output: raw bytes, a typed array, or for BYTES a list of strings or byte arrays. */
export interface OutputTensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Uint8Array | TypedArray | readonly (string | Uint8Array)[];
}

export interface ModelResponse {
  outputs: OutputTensor[];
  /** Response parameters, e.g. a generation's finish_reason on its last response. */
  parameters?: Parameters;
}

export interface Model {
  initialize?(args: InitializeArgs): void | Promise<void>;
  /** One response (or Error) per request, in order. */
  execute(requests: ModelRequest[]): Promise<(ModelResponse | Error)[]> | (ModelResponse | Error)[];
  finalize?(): void | Promise<void>;
}

/**
 * A decoupled model (`model_transaction_policy { decoupled: true }`) answers each request with a
 * stream of zero or more responses: `stream()` yields them as they are produced; returning ends the
 * request (the final flag). `signal` aborts when the client cancels or disconnects — stop promptly.
 */
export interface DecoupledModel {
  initialize?(args: InitializeArgs): void | Promise<void>;
  stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelResponse>;
  finalize?(): void | Promise<void>;
}

/** An error a model throws or returns to reject one request with a client-facing code. */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly code: 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'UNAVAILABLE' | 'INTERNAL' = 'INVALID_ARGUMENT',
  ) {
    super(message);
  }
}

/** Normalise an OutputTensor into wire form. */
export function toTensor(o: OutputTensor): Tensor {
  const d = o.data;
  let data: Uint8Array;
  if (Array.isArray(d)) {
    data = encodeBytes(d.map((e) => (typeof e === 'string' ? Buffer.from(e, 'utf8') : e)));
  } else {
    data = bytesOf(d as ArrayBufferView);
  }
  return { name: o.name, datatype: o.datatype, shape: o.shape, data };
}
