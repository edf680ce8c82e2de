// The one client interface both protocols implement, so code and tests are written once.

import { bytesOf, isDataType, type DataType, type TypedArray } from './datatypes.js';
import { invalidArg } from './errors.js';
import { jsonToRaw } from './json-tensor.js';
import { TensorView } from './tensor-view.js';
import type { ModelConfig } from './model-config.js';
import { encodeBytes, utf8, type Parameters } from './tensor.js';

export type InputData = TypedArray | readonly (string | Uint8Array)[] | readonly boolean[] | readonly number[] | readonly bigint[];

export interface InferInput {
  name: string;
  datatype: DataType;
  shape: number[];
  data: InputData;
  parameters?: Parameters;
}

export interface RequestedOutputSpec {
  name: string;
  /** Top-k classification (Triton's classification extension). */
  classCount?: number;
  /** REST only: ask for this output in binary form (default: the request's `binary`). */
  binary?: boolean;
}

export interface InferOptions {
  modelVersion?: string;
  id?: string;
  outputs?: (string | RequestedOutputSpec)[];
  parameters?: Parameters;
  /** REST: send inputs and ask for outputs as binary tensors instead of JSON (default true). */
  binary?: boolean;
  signal?: AbortSignal;
}

/** TLS for a client: `ca` to trust (default: the system's CAs); `cert` and `key` for mutual TLS. PEM text or bytes. */
export interface ClientTls {
  ca?: string | Uint8Array;
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
}

/** An output of a result: typed(), bytes(), strings(), values(). */
export class ResultTensor extends TensorView {}

export interface InferResult {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: ResultTensor[];
  output(name: string): ResultTensor;
}

export function makeResult(r: Omit<InferResult, 'output'>): InferResult {
  return {
    ...r,
    output(name: string) {
      const t = r.outputs.find((o) => o.name === name);
      if (!t) throw new Error(`no output '${name}' in the response (has ${r.outputs.map((o) => o.name).join(', ')})`);
      return t;
    },
  };
}

export interface ModelMetadataResult {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

export interface ServerMetadataResult {
  name: string;
  version: string;
  extensions: string[];
}

export interface RepositoryEntry {
  name: string;
  version?: string;
  state?: string;
  reason?: string;
}

export interface InferenceClient {
  readonly protocol: 'http' | 'grpc' | 'grpc-web';
  isServerLive(): Promise<boolean>;
  isServerReady(): Promise<boolean>;
  isModelReady(model: string, version?: string): Promise<boolean>;
  getServerMetadata(): Promise<ServerMetadataResult>;
  getModelMetadata(model: string, version?: string): Promise<ModelMetadataResult>;
  getModelConfig(model: string, version?: string): Promise<ModelConfig>;
  infer(model: string, inputs: InferInput[], options?: InferOptions): Promise<InferResult>;
  getModelRepositoryIndex(options?: { ready?: boolean }): Promise<RepositoryEntry[]>;
  loadModel(model: string, options?: { config?: ModelConfig | string }): Promise<void>;
  unloadModel(model: string): Promise<void>;
  /** The generate extension: top-level keys naming inputs become tensors, the rest parameters; exactly one response. */
  generate(model: string, body: Record<string, unknown>, options?: GenerateOptions): Promise<Record<string, unknown>>;
  /** Each response as it is produced (SSE over REST, ModelStreamInfer over gRPC). */
  generateStream(model: string, body: Record<string, unknown>, options?: GenerateOptions): AsyncIterable<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface GenerateOptions {
  modelVersion?: string;
  signal?: AbortSignal;
}

/** Input data as raw wire bytes. */
export function inputToRaw(input: InferInput): Uint8Array {
  if (!isDataType(input.datatype)) throw invalidArg(`input '${input.name}': unknown datatype '${String(input.datatype)}'`);
  const d = input.data;
  if (ArrayBuffer.isView(d)) return bytesOf(d);
  if (input.datatype === 'BYTES') {
    return encodeBytes((d as readonly (string | Uint8Array)[]).map((e) => (typeof e === 'string' ? utf8(e) : e)));
  }
  return jsonToRaw(input.datatype, d as unknown[], `input '${input.name}'`);
}

export function normalizeOutputs(outputs: InferOptions['outputs']): RequestedOutputSpec[] | undefined {
  return outputs?.map((o) => (typeof o === 'string' ? { name: o } : o));
}
