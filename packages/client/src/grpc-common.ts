// GRPCInferenceService as an InferenceClient over any transport that can make a unary call and read one
// request's ModelStreamInfer responses: GrpcClient (grpc-js, HTTP/2) and GrpcWebClient (fetch) share it,
// so both send the same messages and report the same errors.

import { InferenceError, STATUS_TABLE, type ErrorCode } from './errors.js';
import type { ModelConfig } from './model-config.js';
import { isDataType } from './datatypes.js';
import { inference } from './generated/proto.js';
import { paramsFromProto, paramsToProto, toNumber } from './grpc-params.js';
import { EMPTY_FINAL, FINAL_FLAG, type InferenceMethod } from './grpc-methods.js';
import {
  inputToRaw, makeResult, normalizeOutputs, ResultTensor,
  type InferenceClient, type InferInput, type InferOptions, type InferResult,
  type ModelMetadataResult, type RepositoryEntry, type ServerMetadataResult, type GenerateOptions,
} from './types.js';
import { decodeGenerateBody, generateResponseJson } from './generate.js';

export type { InferenceMethod };

const CODE_OF_GRPC = new Map<number, ErrorCode>();
for (const [code, row] of Object.entries(STATUS_TABLE) as [ErrorCode, { grpc: number }][]) {
  if (!CODE_OF_GRPC.has(row.grpc)) CODE_OF_GRPC.set(row.grpc, code);
}

/** A gRPC status and its message as the one error type; statuses without a code of their own are INTERNAL. */
export function errorOfStatus(status: number, message: string): InferenceError {
  return new InferenceError(CODE_OF_GRPC.get(status) ?? 'INTERNAL', message);
}

export interface StreamResult {
  id?: string;
  /** True when this is the request's last message. */
  final: boolean;
  /** Absent on an empty final marker. */
  result?: InferResult;
  error?: InferenceError;
}

/** Every client method but the transport: a unary call by name, and one request's stream responses. */
export abstract class GrpcServiceClient implements InferenceClient {
  abstract readonly protocol: 'grpc' | 'grpc-web';

  /** One unary call by method name, for tests and tools. */
  abstract call<Res>(method: InferenceMethod, request: object, signal?: AbortSignal): Promise<Res>;

  /** One request over ModelStreamInfer: its responses as they come (zero or more for a decoupled model). */
  abstract streamInfer(model: string, inputs: InferInput[], options?: InferOptions): AsyncIterable<InferResult>;

  abstract close(): Promise<void>;

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
    const r = await this.call<inference.ModelInferResponse>('ModelInfer', inferRequest(model, inputs, options), options.signal);
    return decodeInferResponse(r);
  }

  private readonly generateSpecs = new Map<string, Promise<{ inputs: ModelMetadataResult['inputs']; batched: boolean }>>();

  private generateSpec(model: string, version?: string) {
    const key = `${model}\0${version ?? ''}`;
    let p = this.generateSpecs.get(key);
    if (!p) {
      p = Promise.all([this.getModelMetadata(model, version), this.getModelConfig(model, version)])
        .then(([meta, cfg]) => ({ inputs: meta.inputs, batched: (cfg.max_batch_size ?? 0) > 0 }));
      p.catch(() => this.generateSpecs.delete(key));
      this.generateSpecs.set(key, p);
    }
    return p;
  }

  async generate(model: string, body: Record<string, unknown>, options: GenerateOptions = {}): Promise<Record<string, unknown>> {
    const all: Record<string, unknown>[] = [];
    for await (const r of this.generateStream(model, body, options)) all.push(r);
    if (all.length !== 1) {
      throw new InferenceError('INVALID_ARGUMENT', `model '${model}' sent ${all.length} responses; generate expects exactly one (use generate_stream)`);
    }
    return all[0];
  }

  async *generateStream(model: string, body: Record<string, unknown>, options: GenerateOptions = {}): AsyncIterable<Record<string, unknown>> {
    const spec = await this.generateSpec(model, options.modelVersion);
    const req = decodeGenerateBody(body, spec.inputs, spec.batched, model, options.modelVersion);
    const inputs: InferInput[] = req.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.data }));
    for await (const r of this.streamInfer(model, inputs, { modelVersion: options.modelVersion, id: req.id, parameters: req.parameters, signal: options.signal })) {
      yield generateResponseJson({
        modelName: r.modelName, modelVersion: r.modelVersion, id: r.id, parameters: r.parameters,
        outputs: r.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: o.data })),
      });
    }
  }
}

export function inferRequest(model: string, inputs: InferInput[], options: InferOptions): inference.IModelInferRequest {
  return {
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
}

/** A ModelStreamInfer request: asks for Triton's final-response flag so the client knows when a request is done. */
export function streamRequest(model: string, inputs: InferInput[], options: InferOptions): inference.IModelInferRequest {
  return inferRequest(model, inputs, { ...options, parameters: { [EMPTY_FINAL]: true, ...options.parameters } });
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

/** One ModelStreamInfer response: a result, an empty final marker, or a request's error (the stream goes on). */
export function streamResultOf(m: inference.ModelStreamInferResponse): StreamResult {
  const ir = m.infer_response;
  const params = paramsFromProto(ir?.parameters);
  const id = ir?.id || undefined;
  if (m.error_message) {
    const code = typeof params.error_code === 'string' && params.error_code in STATUS_TABLE ? (params.error_code as ErrorCode) : 'INTERNAL';
    return { id, final: true, error: new InferenceError(code, m.error_message) };
  }
  const result = decodeInferResponse(ir as inference.ModelInferResponse);
  const final = params[FINAL_FLAG] === true;
  const marker = final && (ir?.outputs?.length ?? 0) === 0;
  delete result.parameters?.[FINAL_FLAG];
  return { id, final, result: marker ? undefined : result };
}

/** A ModelStreamInfer call that carries any number of requests (gRPC on HTTP/2 only; gRPC-Web has no client streaming). */
export interface InferStream {
  send(model: string, inputs: InferInput[], options?: InferOptions): void;
  /** No more requests; the stream ends once every response has come. */
  end(): void;
  cancel(): void;
  responses: AsyncIterable<StreamResult>;
}

/**
 * One request on a stream of its own: its results. A reader that stops before the final response
 * cancels the stream; after the final one the stream is left to end, as the server ends it at once
 * (this side has ended). Cancelling every finished stream reads as a rapid-reset flood: nghttp2 sends
 * GOAWAY after ~1000 resets on one connection (Node 20 cannot raise that limit).
 */
export async function* streamOne(stream: InferStream, model: string, inputs: InferInput[], options: InferOptions): AsyncIterable<InferResult> {
  stream.send(model, inputs, options);
  stream.end();
  const it = stream.responses[Symbol.asyncIterator]();
  let final = false;
  try {
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      const r = n.value;
      if (r.error) throw r.error;
      final = r.final;
      if (r.result) yield r.result;
      if (final) break;
    }
  } finally {
    if (!final) stream.cancel();
  }
  // The call's end (its trailers) follows the final response; a failure there has nothing left to fail.
  try {
    while (!(await it.next()).done);
  } catch {
    // ignored: every response has been read
  }
}

/** One request's results from its stream items: ends at its final, throws its error. */
export async function* untilFinal(items: AsyncIterable<StreamResult>): AsyncIterable<InferResult> {
  for await (const r of items) {
    if (r.error) throw r.error;
    if (r.result) yield r.result;
    if (r.final) return;
  }
}
