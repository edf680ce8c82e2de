// GrpcClient: inference.GRPCInferenceService over @grpc/grpc-js with the static protobuf codecs.

import * as grpc from '@grpc/grpc-js';
import { InferenceError, STATUS_TABLE, type ErrorCode } from '../core/errors.js';
import type { ModelConfig } from '../core/model-config.js';
import { isDataType } from '../core/datatypes.js';
import { inference } from '../generated/proto.js';
import { paramsFromProto, paramsToProto, toNumber } from '../protocols/grpc/codec.js';
import { EMPTY_FINAL, FINAL_FLAG, INFERENCE_SERVICE } from '../protocols/grpc/definitions.js';
import {
  inputToRaw, makeResult, normalizeOutputs, ResultTensor,
  type InferenceClient, type InferInput, type InferOptions, type InferResult,
  type ModelMetadataResult, type RepositoryEntry, type ServerMetadataResult, type GenerateOptions, type ClientTls,
} from './types.js';
import { AsyncQueue } from '../core/async-queue.js';
import { decodeGenerateBody, generateResponseJson } from '../core/generate.js';


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
  /** The server's API key, sent as metadata `authorization: Bearer <token>`. */
  token?: string;
  /** Metadata sent with every call (e.g. Triton's `triton-grpc-protocol-<key>` for a restricted protocol). */
  headers?: Record<string, string>;
  /** Connect over TLS: `ca` to trust (default: the system's CAs); `cert` and `key` for mutual TLS. */
  tls?: ClientTls;
}

function channelCredentials(tls: ClientTls | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const buf = (pem: string | Buffer | undefined) => (pem === undefined ? null : typeof pem === 'string' ? Buffer.from(pem) : pem);
  return grpc.credentials.createSsl(buf(tls.ca), buf(tls.key), buf(tls.cert));
}

export class GrpcClient implements InferenceClient {
  readonly protocol = 'grpc' as const;
  readonly client: grpc.Client;
  private readonly timeoutMs: number | undefined;
  private readonly fixedMetadata: [string, string][];

  /** `address` like "localhost:8001" (plaintext unless `tls` is given). */
  constructor(address: string, opts: GrpcClientOptions = {}) {
    const max = opts.maxMessageBytes ?? 2 ** 31 - 1;
    this.client = new grpc.Client(address.replace(/^grpc:\/\//, ''), channelCredentials(opts.tls), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      'grpc-node.flow_control_window': opts.windowBytes ?? 8 * 1024 * 1024,
    });
    this.timeoutMs = opts.timeoutMs;
    this.fixedMetadata = Object.entries({ ...opts.headers, ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}) });
  }

  /** Fresh metadata per call (grpc-js may add to what it is given). */
  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of this.fixedMetadata) md.set(k, v);
    return md;
  }

  /** One unary call by method name, for tests and tools. */
  call<Res>(method: keyof typeof INFERENCE_SERVICE & string, request: object, signal?: AbortSignal): Promise<Res> {
    const def = INFERENCE_SERVICE[method];
    const options: grpc.CallOptions = this.timeoutMs ? { deadline: Date.now() + this.timeoutMs } : {};
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, this.metadata(), options,
        (err, res) => (err ? reject(errorOf(err)) : resolve(res as Res)));
      if (signal?.aborted) call.cancel();
      else signal?.addEventListener('abort', () => call.cancel(), { once: true });
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
    const r = await this.call<inference.ModelInferResponse>('ModelInfer', inferRequest(model, inputs, options), options.signal);
    return decodeInferResponse(r);
  }

  /**
   * A ModelStreamInfer stream: send any number of requests, read every response (matched by id)
   * as it comes. Each response item is final when the server says the request is done.
   */
  openStream(signal?: AbortSignal): InferStream {
    const def = INFERENCE_SERVICE.ModelStreamInfer;
    const call = this.client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, this.metadata(), {});
    if (signal?.aborted) call.cancel();
    else signal?.addEventListener('abort', () => call.cancel(), { once: true });
    const queue = new AsyncQueue<StreamResult>();
    // A slow reader pauses the call once STREAM_HIGH_WATER responses wait here, so HTTP/2 flow control
    // holds the server (and the model) back instead of this queue growing without bound.
    let buffered = 0;
    const push = (r: StreamResult) => {
      queue.push(r);
      if (++buffered >= STREAM_HIGH_WATER && !call.isPaused()) call.pause();
    };
    call.on('data', (m: inference.ModelStreamInferResponse) => {
      const ir = m.infer_response;
      const params = paramsFromProto(ir?.parameters);
      const id = ir?.id || undefined;
      if (m.error_message) {
        const code = typeof params.error_code === 'string' && params.error_code in STATUS_TABLE ? (params.error_code as ErrorCode) : 'INTERNAL';
        push({ id, final: true, error: new InferenceError(code, m.error_message) });
        return;
      }
      const result = decodeInferResponse(ir as inference.ModelInferResponse);
      const final = params[FINAL_FLAG] === true;
      const marker = final && (ir?.outputs?.length ?? 0) === 0;
      delete result.parameters?.[FINAL_FLAG];
      push({ id, final, result: marker ? undefined : result });
    });
    call.on('error', (e: grpc.ServiceError) => {
      // Responses that came before the error and wait in the paused call still reach the reader.
      while (call.read() !== null);
      queue.end(errorOf(e));
    });
    call.on('end', () => queue.end());
    return {
      send: (model, inputs, options = {}) => {
        call.write(inferRequest(model, inputs, { ...options, parameters: { [EMPTY_FINAL]: true, ...options.parameters } }));
      },
      end: () => call.end(),
      cancel: () => call.cancel(),
      responses: (async function* () {
        for await (const r of queue) {
          if (--buffered < STREAM_HIGH_WATER && call.isPaused()) call.resume();
          yield r;
        }
      })(),
    };
  }

  /** One request over ModelStreamInfer: its responses as they come (zero or more for a decoupled model). */
  async *streamInfer(model: string, inputs: InferInput[], options: InferOptions = {}): AsyncIterable<InferResult> {
    const stream = this.openStream(options.signal);
    stream.send(model, inputs, options);
    stream.end();
    try {
      for await (const r of stream.responses) {
        if (r.error) throw r.error;
        if (r.result) yield r.result;
        if (r.final) return;
      }
    } finally {
      stream.cancel();
    }
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

  async close(): Promise<void> {
    this.client.close();
  }
}

/** Responses an InferStream holds for a slow reader before it stops reading from the network. */
const STREAM_HIGH_WATER = 16;

export interface StreamResult {
  id?: string;
  /** True when this is the request's last message. */
  final: boolean;
  /** Absent on an empty final marker. */
  result?: InferResult;
  error?: InferenceError;
}

export interface InferStream {
  send(model: string, inputs: InferInput[], options?: InferOptions): void;
  /** No more requests; the stream ends once every response has come. */
  end(): void;
  cancel(): void;
  responses: AsyncIterable<StreamResult>;
}

function inferRequest(model: string, inputs: InferInput[], options: InferOptions): inference.IModelInferRequest {
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
