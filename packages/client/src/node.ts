// duet-client in Node: everything the browser entry has, gRPC over HTTP/2, and TLS options for REST.
import { HttpClient as FetchHttpClient, type HttpClientOptions } from './http.js';
import { httpsFetch } from './https-fetch.js';

export * from './index.js';
export { GrpcClient, type GrpcClientOptions, type InferStream, type StreamResult } from './grpc.js';

/** The REST client; in Node its `tls` option (CA, client certificate) works with the global fetch's API. */
export class HttpClient extends FetchHttpClient {
  constructor(url: string, opts: HttpClientOptions = {}) {
    super(url, opts.tls && !opts.fetch ? { ...opts, fetch: httpsFetch(opts.tls) } : opts);
  }
}
