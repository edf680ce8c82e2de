// GRPCInferenceService as the client calls it: each method's path and message types.

import { inference } from './generated/proto.js';

/** A generated protobuf message type: what a transport needs to send and read it. */
export interface MessageType {
  encode(m: object): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
}

const I = inference;
const m = (req: unknown, res: unknown, stream = false) => ({ request: req as MessageType, response: res as MessageType, stream });

/** Every method the client calls: request type, response type, and whether it is ModelStreamInfer's bidi stream. */
export const INFERENCE_METHODS = {
  ServerLive: m(I.ServerLiveRequest, I.ServerLiveResponse),
  ServerReady: m(I.ServerReadyRequest, I.ServerReadyResponse),
  ModelReady: m(I.ModelReadyRequest, I.ModelReadyResponse),
  ServerMetadata: m(I.ServerMetadataRequest, I.ServerMetadataResponse),
  ModelMetadata: m(I.ModelMetadataRequest, I.ModelMetadataResponse),
  ModelInfer: m(I.ModelInferRequest, I.ModelInferResponse),
  ModelStreamInfer: m(I.ModelInferRequest, I.ModelStreamInferResponse, true),
  ModelConfig: m(I.ModelConfigRequest, I.ModelConfigResponse),
  ModelStatistics: m(I.ModelStatisticsRequest, I.ModelStatisticsResponse),
  RepositoryIndex: m(I.RepositoryIndexRequest, I.RepositoryIndexResponse),
  RepositoryModelLoad: m(I.RepositoryModelLoadRequest, I.RepositoryModelLoadResponse),
  RepositoryModelUnload: m(I.RepositoryModelUnloadRequest, I.RepositoryModelUnloadResponse),
  SystemSharedMemoryStatus: m(I.SystemSharedMemoryStatusRequest, I.SystemSharedMemoryStatusResponse),
  SystemSharedMemoryRegister: m(I.SystemSharedMemoryRegisterRequest, I.SystemSharedMemoryRegisterResponse),
  SystemSharedMemoryUnregister: m(I.SystemSharedMemoryUnregisterRequest, I.SystemSharedMemoryUnregisterResponse),
  CudaSharedMemoryStatus: m(I.CudaSharedMemoryStatusRequest, I.CudaSharedMemoryStatusResponse),
  CudaSharedMemoryRegister: m(I.CudaSharedMemoryRegisterRequest, I.CudaSharedMemoryRegisterResponse),
  CudaSharedMemoryUnregister: m(I.CudaSharedMemoryUnregisterRequest, I.CudaSharedMemoryUnregisterResponse),
  TraceSetting: m(I.TraceSettingRequest, I.TraceSettingResponse),
  LogSettings: m(I.LogSettingsRequest, I.LogSettingsResponse),
};

export type InferenceMethod = keyof typeof INFERENCE_METHODS;

export const methodPath = (method: InferenceMethod) => `/inference.GRPCInferenceService/${method}`;

/** Triton's request parameter asking for final-response flags on a stream, and the flag itself. */
export const EMPTY_FINAL = 'triton_enable_empty_final_response';
export const FINAL_FLAG = 'triton_final_response';
