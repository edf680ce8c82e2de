// duet-client in Node: everything the browser entry has, gRPC over HTTP/2, and TLS options (a CA, a client
// certificate) for the fetch-based clients, which Node's fetch cannot take.
import { GrpcWebClient as FetchGrpcWebClient, type GrpcWebClientOptions } from './grpc-web.js';
import { HttpClient as FetchHttpClient, type HttpClientOptions } from './http.js';
import { httpsFetch } from './https-fetch.js';
import type { ClientTls } from './types.js';

export * from './index.js';
export { GrpcClient, type GrpcClientOptions, type InferStream, type StreamResult } from './grpc.js';

/** A `tls` option becomes a node:https fetch. */
const withTls = <T extends { tls?: ClientTls; fetch?: typeof fetch }>(opts: T): T => (opts.tls && !opts.fetch ? { ...opts, fetch: httpsFetch(opts.tls) } : opts);

export class HttpClient extends FetchHttpClient {
  constructor(url: string, opts: HttpClientOptions = {}) {
    super(url, withTls(opts));
  }
}

export class GrpcWebClient extends FetchGrpcWebClient {
  constructor(url: string, opts: GrpcWebClientOptions = {}) {
    super(url, withTls(opts));
  }
}
