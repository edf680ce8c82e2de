// inference.GRPCInferenceService and Predictor: protobuf <-> the methods'
// neutral requests and responses (src/api/). Translation only; the wrapper runs every call.

import type { Api, CallContext, CallWrapper } from '../../api/index.js';
import { InferenceError, invalidArg } from '../../core/errors.js';
import { inference, PredictResponse, type PredictRequest } from '../../generated/proto.js';
import { DecodeFailure } from './definitions.js';
import { decodeInferRequest, encodeInferResponse } from './codec.js';
import { InferReply } from './infer-wire.js';
import type { RpcCall, RpcStatus } from './rpc-call.js';

/** How dispatch runs a handler: the call, the unary answer's callback, and the call's context. */
export type Handler = (call: RpcCall, callback?: (err: unknown, value?: unknown) => void, ctx?: CallContext) => void;

export const toStatus = (e: InferenceError): RpcStatus => ({ code: e.grpcStatus, details: e.message });

/** The call's request, or INVALID_ARGUMENT when it did not decode. */
export function requestOf<T>(call: RpcCall): T {
  const r = call.request;
  if (r instanceof DecodeFailure) throw invalidArg(r.message);
  return r as T;
}

/** A unary method: protobuf request -> neutral (`decode`), the method, neutral -> protobuf (`encode`). */
export function unary<P, Q, R>(w: CallWrapper, decode: (msg: P) => Q, fn: (c: CallContext, q: Q) => R | Promise<R>, encode: (r: R) => unknown, model?: (msg: P) => string): Handler {
  return (call, callback, ctx) => {
    w.unary(ctx!, () => decode(requestOf<P>(call)), fn, encode, model && !(call.request instanceof DecodeFailure) ? model(call.request as P) : undefined)
      .then((res) => callback!(null, res), (e: InferenceError) => callback!(toStatus(e)));
  };
}

type Ref = { name: string; version?: string };
const ref = (r: Ref) => ({ name: r.name, version: r.version || undefined });
const none = () => ({});

export function inferenceService(api: Api): Record<string, Handler> {
  const { methods: m, wrapper: w } = api;
  const I = inference;
  const notBuilt = (what: string) => unary(w, none, () => m.Unimplemented(what), (x) => x);
  return {
    ServerLive: unary(w, none, () => m.ServerLive(), (r) => I.ServerLiveResponse.create(r)),
    ServerReady: unary(w, none, () => m.ServerReady(), (r) => I.ServerReadyResponse.create(r)),
    ModelReady: unary(w, ref, (c, q) => m.ModelReady(c, q), (r) => I.ModelReadyResponse.create(r)),
    ServerMetadata: unary(w, none, () => m.ServerMetadata(), (r) => I.ServerMetadataResponse.create(r)),
    ModelMetadata: unary(w, ref, (c, q) => m.ModelMetadata(c, q), (r) => I.ModelMetadataResponse.create(r)),
    ModelConfig: unary(w, ref, (c, q) => m.ModelConfig(c, q), (cfg) => I.ModelConfigResponse.create({ config: I.ModelConfig.fromObject(cfg) })),
    // The answer goes out written straight from its tensors (InferReply), without protobufjs's object.
    ModelInfer: unary(w, (r: inference.ModelInferRequest) => decodeInferRequest(r), (c, q) => m.ModelInfer(c, q), (r) => new InferReply(r, encodeInferResponse), (r) => r.model_name),
    ModelStatistics: unary(w, (r: inference.ModelStatisticsRequest) => ({ name: r.name || undefined, version: r.version || undefined }),
      (c, q) => m.ModelStatistics(c, q), (s) => I.ModelStatisticsResponse.fromObject({ model_stats: s })),
    RepositoryIndex: unary(w, (r: inference.RepositoryIndexRequest) => ({ ready: r.ready === true }),
      (c, q) => m.RepositoryIndex(c, q), (models) => I.RepositoryIndexResponse.create({ models })),
    RepositoryModelLoad: unary(w, decodeLoad, (c, q) => m.RepositoryModelLoad(c, q), () => I.RepositoryModelLoadResponse.create()),
    RepositoryModelUnload: unary(w, (r: inference.RepositoryModelUnloadRequest) => ({ name: r.model_name }),
      (c, q) => m.RepositoryModelUnload(c, q), () => I.RepositoryModelUnloadResponse.create()),
    SystemSharedMemoryStatus: notBuilt('system shared memory'),
    SystemSharedMemoryRegister: notBuilt('system shared memory'),
    SystemSharedMemoryUnregister: notBuilt('system shared memory'),
    CudaSharedMemoryStatus: notBuilt('CUDA shared memory'),
    CudaSharedMemoryRegister: notBuilt('CUDA shared memory'),
    CudaSharedMemoryUnregister: notBuilt('CUDA shared memory'),
    TraceSetting: notBuilt('TraceSetting'),
    LogSettings: notBuilt('LogSettings'),
  };
}

function decodeLoad(r: inference.RepositoryModelLoadRequest) {
  const params = r.parameters ?? {};
  const cfg = params.config;
  if (cfg && cfg.parameter_choice !== 'string_param') throw invalidArg(`parameter 'config' must be a string holding the model config as JSON`);
  return { name: r.model_name, config: cfg?.string_param ?? undefined, files: Object.keys(params).filter((k) => k.startsWith('file:')) };
}

/** Predictor.Predict: the data plane owns the contract (which model, which tensors). */
export const predictor = ({ methods: m, wrapper: w }: Api): Handler =>
  unary(w, (r: PredictRequest) => ({ features: r.features ?? [] }), (c, q) => m.Predict(c, q), (r) => PredictResponse.create(r));
