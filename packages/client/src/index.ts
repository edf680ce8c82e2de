// duet-client in a browser (and any runtime with fetch): REST and gRPC-Web. Node's entry (node.ts) adds gRPC.
export { HttpClient, HttpResponse, type HttpClientOptions } from './http.js';
export * from './types.js';
export { InferenceError, type ErrorCode } from './errors.js';
export type { DataType, TypedArray } from './datatypes.js';
export type { ModelConfig } from './model-config.js';
export type { Parameters, ParamValue } from './tensor.js';
export { GrpcWebClient, type GrpcWebClientOptions } from './grpc-web.js';
