// The gRPC services' method tables: paths, streaming kinds and the static protobuf codecs, shared
// by the server and the client (which must not load the server's own dependencies).

import type * as grpc from '@grpc/grpc-js';
import { duet, grpc as g, inference, PredictRequest, PredictResponse } from '../../generated/proto.js';
import { HEADER_BYTES } from './framing.js';
import { InferReply, readInferRequest, writeInferResponse, writeStreamInferResponse } from './infer-wire.js';

export { EMPTY_FINAL, FINAL_FLAG } from '../../../packages/client/src/grpc-methods.js';

/** A protobuf message type as the generated static code exposes it. */
export interface MessageType<T> {
  decode(r: Uint8Array): T;
  encode(m: T): { finish(): Uint8Array };
  fromObject?(o: Record<string, unknown>): T;
}

/** A request that failed to decode: handlers answer it INVALID_ARGUMENT instead of crashing. */
export class DecodeFailure {
  constructor(readonly message: string) {}
}

export interface MethodSpec {
  path: string;
  requestType: MessageType<unknown>;
  responseType: MessageType<unknown>;
  requestStream: boolean;
  responseStream: boolean;
  /** A hand-written decoder for the common shape; undefined from it means protobufjs decodes. */
  fastDecode?: (b: Buffer) => unknown;
  /** A hand-written encoder leaving `headroom` bytes in front; undefined from it means protobufjs encodes. */
  fastEncode?: (v: never, headroom: number) => Buffer | undefined;
  /** The protobufjs object for a handler's value that is not one already. */
  message?: (v: unknown) => unknown;
}

/** A server-side method: the definition, plus its response as a whole frame with the prefix left blank. */
export type ServerMethodDefinition = grpc.MethodDefinition<unknown, unknown> & { responseFrame?: (v: unknown) => Buffer | undefined };

export function methodDefinition(m: MethodSpec): ServerMethodDefinition {
  const fastDecode = m.fastDecode;
  const fastEncode = m.fastEncode as ((v: unknown, headroom: number) => Buffer | undefined) | undefined;
  const message = m.message;
  const serialize = (v: unknown) => {
    const u = m.responseType.encode(message ? message(v) : v).finish();
    return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  };
  return {
    path: m.path,
    requestStream: m.requestStream,
    responseStream: m.responseStream,
    requestSerialize: (v: unknown) => Buffer.from(m.requestType.encode(v).finish()),
    requestDeserialize: (b: Buffer) => {
      try {
        return fastDecode?.(b) ?? m.requestType.decode(b);
      } catch (e) {
        return new DecodeFailure(`malformed ${m.path.split('/').pop()} request: ${(e as Error).message}`);
      }
    },
    responseSerialize: fastEncode ? (v: unknown) => fastEncode(v, 0) ?? serialize(v) : serialize,
    responseFrame: fastEncode ? (v: unknown) => fastEncode(v, HEADER_BYTES) : undefined,
    responseDeserialize: (b: Buffer) => m.responseType.decode(b),
  };
}

type AnyType = MessageType<unknown>;
const t = (x: unknown) => x as AnyType;

// Request and response types of every GRPCInferenceService method (name -> [request, response]).
const I = inference;
export const INFERENCE_METHODS: Record<string, [AnyType, AnyType, Kind?]> = {
  ServerLive: [t(I.ServerLiveRequest), t(I.ServerLiveResponse)],
  ServerReady: [t(I.ServerReadyRequest), t(I.ServerReadyResponse)],
  ModelReady: [t(I.ModelReadyRequest), t(I.ModelReadyResponse)],
  ServerMetadata: [t(I.ServerMetadataRequest), t(I.ServerMetadataResponse)],
  ModelMetadata: [t(I.ModelMetadataRequest), t(I.ModelMetadataResponse)],
  ModelInfer: [t(I.ModelInferRequest), t(I.ModelInferResponse)],
  ModelStreamInfer: [t(I.ModelInferRequest), t(I.ModelStreamInferResponse), 'bidi'],
  ModelConfig: [t(I.ModelConfigRequest), t(I.ModelConfigResponse)],
  ModelStatistics: [t(I.ModelStatisticsRequest), t(I.ModelStatisticsResponse)],
  RepositoryIndex: [t(I.RepositoryIndexRequest), t(I.RepositoryIndexResponse)],
  RepositoryModelLoad: [t(I.RepositoryModelLoadRequest), t(I.RepositoryModelLoadResponse)],
  RepositoryModelUnload: [t(I.RepositoryModelUnloadRequest), t(I.RepositoryModelUnloadResponse)],
  SystemSharedMemoryStatus: [t(I.SystemSharedMemoryStatusRequest), t(I.SystemSharedMemoryStatusResponse)],
  SystemSharedMemoryRegister: [t(I.SystemSharedMemoryRegisterRequest), t(I.SystemSharedMemoryRegisterResponse)],
  SystemSharedMemoryUnregister: [t(I.SystemSharedMemoryUnregisterRequest), t(I.SystemSharedMemoryUnregisterResponse)],
  CudaSharedMemoryStatus: [t(I.CudaSharedMemoryStatusRequest), t(I.CudaSharedMemoryStatusResponse)],
  CudaSharedMemoryRegister: [t(I.CudaSharedMemoryRegisterRequest), t(I.CudaSharedMemoryRegisterResponse)],
  CudaSharedMemoryUnregister: [t(I.CudaSharedMemoryUnregisterRequest), t(I.CudaSharedMemoryUnregisterResponse)],
  TraceSetting: [t(I.TraceSettingRequest), t(I.TraceSettingResponse)],
  LogSettings: [t(I.LogSettingsRequest), t(I.LogSettingsResponse)],
};

type Kind = 'unary' | 'server' | 'bidi';

/** Hand-written codecs for the hot path (infer-wire.ts); protobufjs for every other method and shape. */
const FAST: Record<string, Pick<MethodSpec, 'fastDecode' | 'fastEncode' | 'message'>> = {
  // The server's handler answers an InferReply (written from the data plane's tensors); a protobufjs object also does.
  '/inference.GRPCInferenceService/ModelInfer': {
    fastDecode: readInferRequest,
    fastEncode: (v: InferReply | inference.IModelInferResponse, headroom: number) => v instanceof InferReply ? v.write(headroom) : writeInferResponse(v, headroom),
    message: (v) => (v instanceof InferReply ? v.message() : v),
  },
  '/inference.GRPCInferenceService/ModelStreamInfer': { fastDecode: readInferRequest, fastEncode: writeStreamInferResponse },
};

function serviceDefinition(service: string, methods: Record<string, [AnyType, AnyType, Kind?]>): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, [req, res, kind]] of Object.entries(methods)) {
    const path = `/${service}/${name}`;
    def[name] = methodDefinition({
      path, requestType: req, responseType: res, ...FAST[path],
      requestStream: kind === 'bidi', responseStream: kind === 'bidi' || kind === 'server',
    });
  }
  return def as grpc.ServiceDefinition;
}

export const INFERENCE_SERVICE = serviceDefinition('inference.GRPCInferenceService', INFERENCE_METHODS);
export const PREDICTOR_SERVICE = serviceDefinition('Predictor', { Predict: [t(PredictRequest), t(PredictResponse)] });
export const GENERATOR_SERVICE = serviceDefinition('duet.Generator', {
  Generate: [t(duet.GenerateRequest), t(duet.GenerateResponse), 'server'],
});
export const HEALTH_SERVICE = serviceDefinition('grpc.health.v1.Health', {
  Check: [t(g.health.v1.HealthCheckRequest), t(g.health.v1.HealthCheckResponse)],
  Watch: [t(g.health.v1.HealthCheckRequest), t(g.health.v1.HealthCheckResponse), 'server'],
});

