// GrpcClient: inference.GRPCInferenceService over @grpc/grpc-js with the static protobuf codecs.

import * as grpc from '@grpc/grpc-js';
import { InferenceError, STATUS_TABLE, type ErrorCode } from '../core/errors.js';
import type { ModelConfig } from '../core/model-config.js';
import { isDataType } from '../core/datatypes.js';
import { inference } from '../generated/proto.js';
import { paramsFromProto, paramsToProto, toNumber } from '../protocols/grpc/codec.js';
import { INFERENCE_SERVICE } from '../protocols/grpc/server.js';
import {
  inputToRaw, makeResult, normalizeOutputs, ResultTensor,
  type InferenceClient, type InferInput, type InferOptions, type InferResult,
  type ModelMetadataResult, type RepositoryEntry, type ServerMetadataResult,
} from './types.js';

const CODE_OF_GRPC = new Map<number, ErrorCode>();
for (const [code, row] of Object.entries(STATUS_TABLE) as [ErrorCode, { grpc: number }][]) {
  if (!CODE_OF_GRPC.has(row.grpc)) CODE_OF_GRPC.set(row.grpc, code);
}

export interface GrpcClientOptions {
  maxMessageBytes?: number;
  /** HTTP/2 flow-control window the client grants the server. */
  windowBytes?: number;
  /** Per-call deadline in milliseconds. */
  timeoutMs?: number;
}

export class GrpcClient implements InferenceClient {
  readonly protocol = 'grpc' as const;
  readonly client: grpc.Client;
  private readonly timeoutMs: number | undefined;

  /** `address` like "localhost:8001". */
  constructor(address: string, opts: GrpcClientOptions = {}) {
    const max = opts.maxMessageBytes ?? 2 ** 31 - 1;
    this.client = new grpc.Client(address.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      'grpc-node.flow_control_window': opts.windowBytes ?? 8 * 1024 * 1024,
    });
    this.timeoutMs = opts.timeoutMs;
  }

  /** One unary call by method name, for tests and tools. */
  call<Res>(method: keyof typeof INFERENCE_SERVICE & string, request: object, signal?: AbortSignal): Promise<Res> {
    const def = INFERENCE_SERVICE[method];
    const options: grpc.CallOptions = this.timeoutMs ? { deadline: Date.now() + this.timeoutMs } : {};
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, new grpc.Metadata(), options,
        (err, res) => (err ? reject(errorOf(err)) : resolve(res as Res)));
      signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  async isServerLive() {
    return (await this.call<inference.ServerLiveResponse>('ServerLive', {})).live === true;
  }

  async isServerReady() {
    return (await this.call<inference.ServerReadyResponse>('ServerReady', {})).ready === true;
  }

  async isModelReady(model: string, version?: string) {
    return (await this.call<inference.ModelReadyResponse>('ModelReady', { name: model, version: version ?? '' })).ready === true;
  }

  async getServerMetadata(): Promise<ServerMetadataResult> {
    const r = await this.call<inference.ServerMetadataResponse>('ServerMetadata', {});
    return { name: r.name ?? '', version: r.version ?? '', extensions: r.extensions ?? [] };
  }

  async getModelMetadata(model: string, version?: string): Promise<ModelMetadataResult> {
    const r = await this.call<inference.ModelMetadataResponse>('ModelMetadata', { name: model, version: version ?? '' });
    const meta = (l: inference.ModelMetadataResponse.ITensorMetadata[] | null | undefined) =>
      (l ?? []).map((x) => ({ name: x.name ?? '', datatype: x.datatype ?? '', shape: (x.shape ?? []).map((d) => toNumber(d as number)) }));
    return { name: r.name ?? '', versions: r.versions ?? [], platform: r.platform ?? '', inputs: meta(r.inputs), outputs: meta(r.outputs) };
  }

  async getModelConfig(model: string, version?: string): Promise<ModelConfig> {
    const r = await this.call<inference.ModelConfigResponse>('ModelConfig', { name: model, version: version ?? '' });
    return inference.ModelConfig.toObject(r.config as inference.ModelConfig, { longs: Number, enums: String, defaults: false, arrays: true }) as ModelConfig;
  }

  async getModelRepositoryIndex(options: { ready?: boolean } = {}): Promise<RepositoryEntry[]> {
    const r = await this.call<inference.RepositoryIndexResponse>('RepositoryIndex', { repository_name: '', ready: options.ready === true });
    return (r.models ?? []).map((m) => ({
      name: m.name ?? '',
      ...(m.version ? { version: m.version } : {}),
      state: m.state ?? '',
      reason: m.reason ?? '',
    }));
  }

  async loadModel(model: string, options: { config?: ModelConfig | string } = {}): Promise<void> {
    const config = options.config === undefined ? undefined : typeof options.config === 'string' ? options.config : JSON.stringify(options.config);
    await this.call('RepositoryModelLoad', {
      repository_name: '', model_name: model, parameters: config === undefined ? {} : { config: { string_param: config } },
    });
  }

  async unloadModel(model: string): Promise<void> {
    await this.call('RepositoryModelUnload', { repository_name: '', model_name: model });
  }

  async infer(model: string, inputs: InferInput[], options: InferOptions = {}): Promise<InferResult> {
    const request: inference.IModelInferRequest = {
      model_name: model,
      model_version: options.modelVersion ?? '',
      id: options.id ?? '',
      parameters: paramsToProto(options.parameters),
      inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, parameters: paramsToProto(i.parameters) })),
      outputs: normalizeOutputs(options.outputs)?.map((o) => ({
        name: o.name,
        parameters: (o.classCount !== undefined ? { classification: { int64_param: o.classCount } } : {}) as Record<string, inference.IInferParameter>,
      })) ?? [],
      raw_input_contents: inputs.map(inputToRaw),
    };
    const r = await this.call<inference.ModelInferResponse>('ModelInfer', request, options.signal);
    return decodeInferResponse(r);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

export function decodeInferResponse(r: inference.ModelInferResponse): InferResult {
  const raw = r.raw_output_contents ?? [];
  const outputs = (r.outputs ?? []).map((o, i) => {
    const dt = o.datatype ?? '';
    if (!isDataType(dt)) throw new InferenceError('INTERNAL', `response output '${o.name}' has unknown datatype '${dt}'`);
    if (raw[i] === undefined) throw new InferenceError('INTERNAL', `response output '${o.name}' has no raw_output_contents entry`);
    return new ResultTensor(o.name ?? '', dt, (o.shape ?? []).map((d) => toNumber(d as number)), raw[i]);
  });
  return makeResult({
    modelName: r.model_name ?? '',
    modelVersion: r.model_version ?? '',
    id: r.id || undefined,
    parameters: paramsFromProto(r.parameters),
    outputs,
  });
}

export function errorOf(e: grpc.ServiceError): InferenceError {
  return new InferenceError(CODE_OF_GRPC.get(e.code) ?? 'INTERNAL', e.details || e.message);
}
