// gRPC-Web's HTTP glue: a request on the REST port (node:http, HTTP/1.1 as browsers speak it) or on the
// gRPC port (node:http2) with a gRPC-Web content type becomes a GrpcWebCall that GrpcServer.dispatch
// runs, so the handlers, auth, metrics and shutdown draining are gRPC's own. CORS: preflights for gRPC
// paths, and the browser origin checked before the body is read.

import http2 from 'node:http2';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InferenceError } from '../../core/errors.js';
import { OriginPolicy, type OriginDecision } from '../../security/cors.js';
import type { CallBase, CallLimits } from '../grpc/call-base.js';
import type { RpcCall, RpcMethod } from '../grpc/rpc-call.js';
import { discardRest } from '../http/body.js';
import { GrpcWebCall, type WebExchange } from './call.js';
import { isGrpcWeb, modeOf, SUPPORTED_TYPES } from './codec.js';

export { isGrpcWeb };

/** What the gateway needs of the gRPC server. */
export interface WebDispatcher {
  readonly limits: CallLimits;
  knows(path: string): boolean;
  method(path: string): RpcMethod;
  dispatch(call: CallBase, path: string, header: (name: string) => string | undefined): void;
}

export interface GrpcWebOptions {
  /** Browser origins allowed in (--cors-allow-origin); absent: none (same-origin and non-browser requests pass). */
  origins?: OriginPolicy;
  /** More request headers a preflight allows (the restricted protocols' header names). */
  allowHeaders?: readonly string[];
}

/** The parts of a request the gateway decides on, whichever HTTP version carried it. */
interface WebRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Host or :authority, for same-origin requests. */
  host?: string;
  scheme: 'http' | 'https';
}

/** An answer that is not a gRPC call (a preflight, a wrong content type): status, headers, text. */
type PlainReply = (status: number, headers: Record<string, string>, text: string) => void;

const first = (v: string | string[] | undefined) => Array.isArray(v) ? v[0] : v;

/** A body the client is still sending (or may send) that the answer leaves unread. */
const unreadBody = (req: http.IncomingMessage) =>
  !req.complete && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0);

export class GrpcWebGateway {
  private readonly origins: OriginPolicy;

  constructor(private readonly server: WebDispatcher, private readonly opts: GrpcWebOptions = {}) {
    this.origins = opts.origins ?? new OriginPolicy();
  }

  /**
   * node:http: answers gRPC-Web requests (and CORS preflights for gRPC paths) and says true; false
   * leaves the request to the REST routes.
   */
  http1(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const contentType = first(req.headers['content-type']);
    if (!(method === 'POST' && isGrpcWeb(contentType)) && !(method === 'OPTIONS' && this.server.knows(path))) return false;
    const exchange: WebExchange = {
      body: req,
      events: res,
      respond: (headers, end) => {
        const unread = end && unreadBody(req);
        // A body left unread is not worth reading: the connection closes after a short linger.
        if (unread) headers = { ...headers, connection: 'close' };
        res.writeHead(200, headers);
        if (!end) return;
        res.end();
        if (unread) discardRest(req);
      },
      write: (chunk) => res.write(chunk),
      end: () => res.end(),
      abort: () => res.destroy(),
    };
    this.serve({ method, path, headers: req.headers, host: first(req.headers.host), scheme: (req.socket as TLSSocket).encrypted ? 'https' : 'http' }, exchange, (status, headers, text) => {
      const unread = unreadBody(req);
      res.writeHead(status, { ...headers, 'content-type': 'text/plain', ...(unread ? { connection: 'close' } : {}) });
      res.end(text);
      if (unread) discardRest(req);
    });
    return true;
  }

  /** node:http2: a stream on the gRPC port with a gRPC-Web content type, or an OPTIONS preflight. */
  http2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const stopReading = () => {
      if (!stream.readableEnded && !stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    };
    const exchange: WebExchange = {
      body: stream,
      events: stream,
      respond: (h, end) => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ...h, ':status': 200 }, { endStream: end });
        if (end) stopReading();
      },
      write: (chunk) => !stream.destroyed && stream.write(chunk),
      end: () => stream.end(),
      abort: () => stream.close(http2.constants.NGHTTP2_CANCEL),
    };
    const session = stream.session?.socket as TLSSocket | undefined;
    this.serve({
      method: String(headers[':method']), path: String(headers[':path'] ?? '').split('?')[0], headers,
      host: first(headers[':authority'] ?? headers.host), scheme: session?.encrypted ? 'https' : 'http',
    }, exchange, (status, h, text) => {
      if (stream.destroyed || stream.closed) return;
      stream.respond({ ...h, ':status': status, 'content-type': 'text/plain' });
      stream.end(text);
      stopReading();
    });
  }

  private serve(r: WebRequest, exchange: WebExchange, plain: PlainReply): void {
    const header = (name: string) => first(r.headers[name]);
    const decision: OriginDecision = this.origins.check({ origin: header('origin'), secFetchSite: header('sec-fetch-site'), host: r.host, scheme: r.scheme });
    if (r.method === 'OPTIONS') {
      if (decision.error) return plain(403, decision.headers, `${decision.error.message}\n`);
      if (!this.server.knows(r.path)) return plain(404, decision.headers, `unknown method ${r.path}\n`);
      return plain(204, this.origins.preflightHeaders(decision, this.opts.allowHeaders), '');
    }
    const contentType = header('content-type') ?? '';
    const mode = modeOf(contentType);
    // The gRPC spec answers a content type it cannot speak with HTTP 415.
    if (!mode) return plain(415, decision.headers, `gRPC-Web content type '${contentType}' is not supported; use ${SUPPORTED_TYPES}\n`);
    const call = new GrpcWebCall(exchange, r.headers, this.server.method(r.path), mode, this.server.limits, decision.headers);
    // A browser page from an origin not allowed is refused before its body is read.
    if (decision.error) return call.fail(decision.error);
    this.server.dispatch(call, r.path, header);
  }
}

