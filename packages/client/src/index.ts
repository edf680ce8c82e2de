export { HttpClient } from './http.js';
export * from './types.js';
export { InferenceError } from './errors.js';
export { GrpcClient } from './grpc.js';
export { GrpcWebClient, type GrpcWebClientOptions } from './grpc-web.js';
