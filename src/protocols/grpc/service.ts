// inference.GRPCInferenceService and the brief's Predictor -> data-plane calls. Translation only.

import * as grpc from '@grpc/grpc-js';
import { asInferenceError, InferenceError, invalidArg } from '../../core/errors.js';
import type { DataPlane } from '../../dataplane.js';
import { inference, PredictResponse, type PredictRequest } from '../../generated/proto.js';
import { DecodeFailure } from './definitions.js';
import { decodeInferRequest, encodeInferResponse } from './codec.js';
import { nowMs } from '../../core/trace.js';
import type { Tracing } from '../../metrics/tracing.js';

export function toServiceError(e: unknown): grpc.ServiceError {
  const err = asInferenceError(e);
  return Object.assign(new Error(err.message), { code: err.grpcStatus, details: err.message, metadata: new grpc.Metadata() });
}

/** A unary handler: decode failures and thrown InferenceErrors become gRPC statuses. */
export function unary(fn: (req: never, call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<unknown> | unknown) {
  return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    if (call.request instanceof DecodeFailure) {
      callback(toServiceError(invalidArg(call.request.message)));
      return;
    }
    Promise.resolve()
      .then(() => fn(call.request as never, call))
      .then((res) => callback(null, res), (e) => callback(toServiceError(e)));
  };
}

const unimplemented = (what: string) => () => {
  throw new InferenceError('UNIMPLEMENTED', `${what} is not supported by this server`);
};

/** An AbortSignal that fires when the client cancels the call or its deadline passes. */
function callSignal(call: grpc.ServerUnaryCall<unknown, unknown>): AbortSignal {
  // Duet's own calls carry one (call.ts), made on first use: no second controller and listener per call.
  const own = (call as { signal?: AbortSignal }).signal;
  if (own) return own;
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort());
  return ac.signal;
}

/** The call's gRPC deadline as Date.now() milliseconds, if it has one. */
export function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
}

type Impl = Record<string, (req: never, call: grpc.ServerUnaryCall<unknown, unknown>) => unknown>;

export function inferenceServiceImpl(dp: DataPlane, tracing?: Tracing): Impl {
  const I = inference;
  return {
    ServerLive: () => I.ServerLiveResponse.create({ live: dp.live() }),
    ServerReady: () => I.ServerReadyResponse.create({ ready: dp.ready() }),
    ModelReady: (r: inference.ModelReadyRequest) => I.ModelReadyResponse.create({ ready: dp.modelReady(r.name, r.version || undefined) }),
    ServerMetadata: () => I.ServerMetadataResponse.create(dp.serverMetadata()),
    ModelMetadata: (r: inference.ModelMetadataRequest) => I.ModelMetadataResponse.create(dp.modelMetadata(r.name, r.version || undefined)),
    ModelConfig: (r: inference.ModelConfigRequest) =>
      I.ModelConfigResponse.create({ config: I.ModelConfig.fromObject(dp.modelConfig(r.name, r.version || undefined)) }),
    ModelInfer: async (r: inference.ModelInferRequest, call) => {
      const trace = tracing?.startRequest('ModelInfer', {
        traceparent: call.metadata.get('traceparent')[0]?.toString(),
        tracestate: call.metadata.get('tracestate')[0]?.toString(),
      }, { 'rpc.system': 'grpc', 'rpc.method': 'ModelInfer', 'duet.model': r.model_name });
      try {
        const t0 = nowMs();
        const req = decodeInferRequest(r);
        req.signal = callSignal(call);
        req.deadline = deadlineOf(call);
        req.trace = trace;
        trace?.record('decode', t0, nowMs());
        const res = await dp.infer(req);
        const t1 = nowMs();
        const out = encodeInferResponse(res);
        trace?.record('encode', t1, nowMs());
        trace?.end();
        return out;
      } catch (e) {
        trace?.end({ message: (e as Error).message });
        throw e;
      }
    },
    ModelStatistics: (r: inference.ModelStatisticsRequest) =>
      I.ModelStatisticsResponse.fromObject({ model_stats: dp.statistics(r.name || undefined, r.version || undefined) }),
    RepositoryIndex: async (r: inference.RepositoryIndexRequest) => {
      const entries = await dp.repositoryIndex(r.ready === true);
      return I.RepositoryIndexResponse.create({ models: entries });
    },
    RepositoryModelLoad: async (r: inference.RepositoryModelLoadRequest) => {
      const params = r.parameters ?? {};
      const cfg = params.config;
      if (cfg && cfg.parameter_choice !== 'string_param') throw invalidArg(`parameter 'config' must be a string holding the model config as JSON`);
      await dp.loadModel(r.model_name, { config: cfg?.string_param ?? undefined, files: Object.keys(params).filter((k) => k.startsWith('file:')) });
      return I.RepositoryModelLoadResponse.create();
    },
    RepositoryModelUnload: async (r: inference.RepositoryModelUnloadRequest) => {
      await dp.unloadModel(r.model_name);
      return I.RepositoryModelUnloadResponse.create();
    },
    SystemSharedMemoryStatus: unimplemented('system shared memory'),
    SystemSharedMemoryRegister: unimplemented('system shared memory'),
    SystemSharedMemoryUnregister: unimplemented('system shared memory'),
    CudaSharedMemoryStatus: unimplemented('CUDA shared memory'),
    CudaSharedMemoryRegister: unimplemented('CUDA shared memory'),
    CudaSharedMemoryUnregister: unimplemented('CUDA shared memory'),
    TraceSetting: unimplemented('TraceSetting'),
    LogSettings: unimplemented('LogSettings'),
  };
}

/** Predictor.Predict: the data plane owns the contract (which model, which tensors). */
export function predictorImpl(dp: DataPlane) {
  return async (r: PredictRequest, call: grpc.ServerUnaryCall<unknown, unknown>) =>
    PredictResponse.create({ score: await dp.predict({ features: r.features ?? [], signal: callSignal(call), deadline: deadlineOf(call) }) });
}
