// The gRPC front-end: Duet's own gRPC server on node:http2 (plain or TLS) with static protobufjs codecs,
// serving inference.GRPCInferenceService, the brief's Predictor, duet.Generator, grpc.health.v1.Health and
// server reflection. Handlers keep grpc-js's call shape (see call.ts); grpc-js itself is only a client here.

import { setMaxListeners } from 'node:events';
import type http from 'node:http';
import http2 from 'node:http2';
import { join } from 'node:path';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Api, CallContext } from '../../api/index.js';
import { InferenceError, invalidArg, unavailable } from '../../core/errors.js';
import { healthService } from './health.js';
import { reflectionImpl, REFLECTION_V1_SERVICE, REFLECTION_V1ALPHA_SERVICE } from './reflection/service.js';
import { generator, modelStreamInfer, type StreamControl } from './streaming.js';
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS, finalFrameMs, shutdownError, type CloseReport } from '../lifecycle.js';
import { inferenceService, predictor, type Handler } from './service.js';
import { ServerCall, type CallLimits } from './call.js';
import type { CallBase, CallObserver } from './call-base.js';
import { GrpcCallContext } from './context.js';
import { CallList } from './call-list.js';
import type { RpcCall, RpcMethod, RpcStatus } from './rpc-call.js';
import { GrpcWebGateway, isGrpcWeb, type GrpcWebOptions } from '../grpc-web/server.js';
import { PlainPort } from '../grpc-web/plain-port.js';
import { nodeTlsOptions, type ListenerTls } from '../../core/tls.js';
import { DEFAULT_HOST } from '../../core/listen.js';
import { GENERATOR_SERVICE, HEALTH_SERVICE, INFERENCE_SERVICE, PREDICTOR_SERVICE } from './definitions.js';

export { GENERATOR_SERVICE, HEALTH_SERVICE, INFERENCE_SERVICE, PREDICTOR_SERVICE };

export interface GrpcServerOptions {
  host?: string;
  port?: number;
  /** Largest message in either direction, after decompression; Triton's client allows 2^31-1. */
  maxMessageBytes?: number;
  /** HTTP/2 flow-control window per stream and per connection. */
  windowBytes?: number;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  protoDir: string;
  /** Serve gRPC over TLS; with requireClientCert, a client without a certificate signed by `ca` is refused at the handshake. */
  tls?: ListenerTls;
  /** Reserve memory for received bytes (the server-wide in-flight budget). */
  reserve?: CallLimits['reserve'];
  tryReserve?: CallLimits['tryReserve'];
  /** A request message that stalls this long is dropped. */
  requestTimeoutMs?: number;
  /** A streaming call whose reader takes no data for this long is cancelled; 0: never. */
  streamIdleTimeoutMs?: number;
  /** gRPC-Web from browsers: origins allowed (--cors-allow-origin) and more request headers preflights allow. */
  web?: GrpcWebOptions;
  /** zlib level for ModelInfer / ModelStreamInfer responses (Triton's --grpc-infer-response-compression-level); absent: none. */
  inferResponseCompressionLevel?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection; absent: Node's default, 2^32-1 (no limit). */
  maxConcurrentStreams?: number;
}

/** Triton's level names and the zlib levels they stand for. */
export const COMPRESSION_LEVELS: Record<string, number | undefined> = { none: undefined, low: 1, medium: 6, high: 9 };
/** The methods whose responses --grpc-infer-response-compression-level compresses, as Triton. */
const COMPRESSED_PATHS: ReadonlySet<string> = new Set(['/inference.GRPCInferenceService/ModelInfer', '/inference.GRPCInferenceService/ModelStreamInfer']);

export const DEFAULT_GRPC_PORT = 8001;
export const DEFAULT_MAX_MESSAGE = 2 ** 31 - 1;
/** Ping an idle connection every 2 h and drop it when a ping goes unanswered for 20 s (gRPC's defaults). */
export const DEFAULT_KEEPALIVE_TIME_MS = 2 * 60 * 60 * 1000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;
/** 8 MiB: a 600 KB image fits in the first window; the default 64 KiB window costs ~10 round trips. */
export const DEFAULT_WINDOW = 8 * 1024 * 1024;

type Kind = 'unary' | 'server' | 'bidi';
interface Route { def: ServiceDefinition[string]; handler: Handler; kind: Kind; name: string }

const STATUS_NAME = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL',
  'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

export class GrpcServer implements CallObserver {
  readonly server: http2.Http2Server | http2.Http2SecureServer;
  /** Without TLS: the listener that tells HTTP/2 from browsers' HTTP/1.1 (gRPC-Web) on this port. */
  private readonly plain?: PlainPort;
  private readonly routes = new Map<string, Route>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Calls in progress, on every transport, with their kind (for shutdown). */
  private readonly calls = new CallList<CallBase>();
  readonly limits: CallLimits;
  /** gRPC-Web, on this port and (through HttpServer's grpcWeb hook) on the REST port. */
  readonly web: GrpcWebGateway;
  private closing?: Promise<CloseReport>;
  /** Shutdown has begun: streams take no new requests and end once idle. */
  private readonly draining = new AbortController();
  /** The grace period is almost over: streams still open end now, with this signal's reason. */
  private readonly ending = new AbortController();

  constructor(private readonly api: Api, private readonly opts: GrpcServerOptions) {
    this.web = new GrpcWebGateway(this, opts.web);
    this.limits = { maxMessageBytes: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE, reserve: opts.reserve, tryReserve: opts.tryReserve, requestTimeoutMs: opts.requestTimeoutMs,
      ...(opts.inferResponseCompressionLevel === undefined ? {} : { compressLevel: opts.inferResponseCompressionLevel, compressPaths: COMPRESSED_PATHS }) };
    const win = Math.min(Math.max(opts.windowBytes ?? DEFAULT_WINDOW, 65535), 2 ** 31 - 1);
    const serverOpts: http2.ServerOptions = {
      settings: { initialWindowSize: win, maxHeaderListSize: 64 * 1024, ...(opts.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: opts.maxConcurrentStreams }) },
      // Memory is bounded by the in-flight budget, not by nghttp2's per-session cap (in MB), which would
      // refuse large messages with ENHANCE_YOUR_CALM.
      maxSessionMemory: 1024 ** 2,
      // nghttp2's rapid-reset guard (1000 then 33/s) sends GOAWAY to a client that simply cancels a lot;
      // a larger burst and rate still stop a flood. Node 20 ignores both options (its limit stays 1000 then
      // 33/s per connection), which is why Duet's clients never reset a stream that has finished.
      streamResetBurst: 10_000,
      streamResetRate: 1_000,
    } as http2.ServerOptions;
    const tls = opts.tls;
    this.server = tls
      ? http2.createSecureServer({ ...serverOpts, ...nodeTlsOptions(tls), allowHTTP1: false })
      : http2.createServer(serverOpts);
    if (!tls) this.plain = new PlainPort(this.server as http2.Http2Server, (req, res) => this.onHttp1(req, res));
    this.server.on('session', (session) => this.onSession(session, win));
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
    // A handshake that fails (plaintext client on a TLS port, no client certificate) is the client's problem.
    this.server.on('tlsClientError', () => {});
    this.server.on('sessionError', () => {});

    setMaxListeners(0, this.draining.signal, this.ending.signal);
    const control: StreamControl = {
      draining: this.draining.signal,
      ending: this.ending.signal,
      idleTimeoutMs: opts.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    };
    this.addService(INFERENCE_SERVICE, { ...inferenceService(api), ModelStreamInfer: modelStreamInfer(api, control) });
    this.addService(PREDICTOR_SERVICE, { Predict: predictor(api) });
    this.addService(GENERATOR_SERVICE, { Generate: generator(api, control) });
    this.addService(HEALTH_SERVICE, healthService(api));
    // Reflection keeps grpc-js's handler shape; dispatch still gives it the wrapper's auth and metrics.
    const reflection = reflectionImpl(opts.protoDir, () => [...new Set([...this.routes.keys()].map((p) => p.split('/')[1]))]);
    this.addService(REFLECTION_V1_SERVICE, reflection as unknown as UntypedServiceImplementation);
    this.addService(REFLECTION_V1ALPHA_SERVICE, reflection as unknown as UntypedServiceImplementation);
  }

  /** grpc-js's addService shape; Duet's own handlers also take the call's CallContext. */
  addService(service: ServiceDefinition, impl: UntypedServiceImplementation | Record<string, Handler>): void {
    for (const [name, def] of Object.entries(service)) {
      const handler = ((impl as Record<string, unknown>)[name] ?? (impl as Record<string, unknown>)[(def as { originalName?: string }).originalName ?? '']) as Handler | undefined;
      if (!handler) continue;
      const kind: Kind = def.requestStream ? 'bidi' : def.responseStream ? 'server' : 'unary';
      this.routes.set(def.path, { def, handler, kind, name });
    }
  }

  async listen(): Promise<{ address: string; port: number }> {
    const host = this.opts.host ?? DEFAULT_HOST;
    const listener = this.plain?.server ?? this.server;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(this.opts.port ?? DEFAULT_GRPC_PORT, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const addr = listener.address();
    return { address: host, port: typeof addr === 'object' && addr ? addr.port : 0 };
  }

  private onSession(session: http2.ServerHttp2Session, win: number): void {
    this.sessions.add(session);
    session.on('error', () => {});
    try {
      session.setLocalWindowSize(win);
    } catch {
      // session already closing
    }
    if (this.closing) session.close();
    const every = this.opts.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS;
    const grace = this.opts.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    const timer = setInterval(() => {
      if (session.closed || session.destroyed) return;
      const dead = setTimeout(() => session.destroy(), grace);
      dead.unref();
      try {
        session.ping((err) => {
          clearTimeout(dead);
          if (err) session.destroy();
        });
      } catch {
        clearTimeout(dead);
      }
    }, Math.min(every, 2 ** 31 - 1));
    timer.unref();
    session.on('close', () => {
      clearInterval(timer);
      this.sessions.delete(session);
    });
  }

  /** HTTP/1.1 on the plaintext gRPC port: gRPC-Web only. */
  private onHttp1(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.web.http1(req, res)) return;
    res.writeHead(req.method === 'POST' ? 415 : 405, { 'content-type': 'text/plain' });
    res.end(`this is the gRPC port: over HTTP/1.1 it takes only gRPC-Web (POST with content-type application/grpc-web or application/grpc-web-text), got ${req.method} ${req.headers['content-type'] ?? 'no content-type'}\n`);
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const path = headers[':path'] ?? '';
    const contentType = String(headers['content-type'] ?? '');
    if (isGrpcWeb(contentType) || headers[':method'] === 'OPTIONS') {
      stream.on('error', noop);
      return this.web.http2(stream, headers);
    }
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      stream.on('error', noop);
      // Not gRPC at all (the spec answers a wrong content type with 415).
      stream.respond({ ':status': headers[':method'] !== 'POST' ? 405 : 415, 'content-type': 'text/plain' });
      stream.end(`gRPC needs POST with content-type application/grpc, got ${headers[':method']} ${contentType || 'no content-type'}\n`);
      return;
    }
    // The route is looked up once, for the call and for dispatch. The call listens for the stream's errors itself.
    const route = this.routes.get(path);
    const call = new ServerCall(stream, headers, route?.def ?? passThrough(path), this.limits);
    this.run(call, path, route, 'grpc', (name) => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    });
  }

  knows(path: string): boolean {
    return this.routes.has(path);
  }

  /** The method at `path`; an unknown path gets one that passes bytes through, so its call can be answered UNIMPLEMENTED. */
  method(path: string): RpcMethod {
    return this.routes.get(path)?.def ?? passThrough(path);
  }

  /**
   * Runs one call, whatever transport carries it: its CallContext made, counted for shutdown and (by the
   * call wrapper) for metrics, refused when the method is unknown, the server is closing or the wrapper's
   * auth step says no, then its request read and its handler called as its kind needs. `header` reads the
   * request's headers (metadata) by lower-case name.
   */
  dispatch(call: CallBase, path: string, header: (name: string) => string | undefined): void {
    this.run(call, path, this.routes.get(path), undefined, header);
  }

  /** dispatch, with the route found and (on gRPC over HTTP/2) the protocol known. */
  private run(call: CallBase, path: string, route: Route | undefined, protocol: 'grpc' | undefined, header: (name: string) => string | undefined): void {
    this.calls.add(call, route !== undefined && route.kind !== 'unary');
    const ctx = new GrpcCallContext(call, path, route?.name ?? 'unknown', header, protocol);
    call.ctx = ctx;
    call.observer = this;
    const wrapper = this.api.wrapper;
    if (!route) return call.fail(new InferenceError('UNIMPLEMENTED', `unknown method ${path}`));
    if (this.closing) return call.fail(unavailable('the server is shutting down'));
    const denied = wrapper.admit(ctx);
    if (denied) return call.fail(denied);
    const { handler, kind } = route;
    if (kind === 'bidi') {
      handler(call, undefined, ctx);
      call.read((msg) => call.emit('data', msg), () => call.emit('end'));
      return;
    }
    call.read(takeRequest, () => {
      // A decoded message is never undefined (a malformed one is a DecodeFailure).
      if (call.request === undefined) return call.fail(invalidArg(`${path} needs one request message, got none`));
      if (kind === 'server') return handler(call, undefined, ctx);
      handler(call, (err, value) => {
        if (err) return call.sendStatus(err as RpcStatus);
        call.write(value);
        call.end();
      }, ctx);
    });
  }

  /** Metrics: every call once, when its status goes out or it is cancelled. */
  callEnded(call: CallBase, code: number): void {
    if (call.ctx) this.api.wrapper.finished(call.ctx, STATUS_NAME[code] ?? String(code));
  }

  callClosed(call: CallBase): void {
    this.calls.delete(call);
  }

  /**
   * Stop accepting (GOAWAY on open sessions); calls in flight finish; idle streams end at once with
   * UNAVAILABLE. Streams still open shortly before `graceMs` end with UNAVAILABLE (their handlers send it);
   * calls left at `graceMs` are ended with UNAVAILABLE. All of those are counted in `cut`.
   */
  close(graceMs = 30_000): Promise<CloseReport> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => (this.plain?.server ?? this.server).close(() => resolve()));
      for (const s of this.sessions) s.close();
      this.plain?.drain();
      this.draining.abort();
      const counted = new Set<RpcCall>();
      const ending = Number.isFinite(graceMs) ? setTimeout(() => {
        for (const c of this.calls.all()) if (c.streaming) counted.add(c);
        this.ending.abort(shutdownError());
      }, Math.max(0, graceMs - finalFrameMs(graceMs))) : undefined;
      const idle = async () => {
        while (this.calls.size) await new Promise((r) => setTimeout(r, 20));
      };
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle(), new Promise((r) => {
        if (Number.isFinite(graceMs)) timer = setTimeout(r, graceMs);
      })]);
      clearTimeout(timer);
      clearTimeout(ending);
      let cut = counted.size;
      const left = this.calls.all();
      for (const c of left) if (!counted.has(c)) cut++;
      for (const c of left) c.fail(unavailable('the server is shutting down'), true);
      if (this.calls.size) await new Promise((r) => setTimeout(r, 50));
      for (const s of this.sessions) s.destroy();
      this.plain?.destroyAll();
      await closed;
      return { cut };
    })();
    return this.closing;
  }
}

const noop = () => {};
/** The method of an unknown path: bytes pass through, so its call can be answered UNIMPLEMENTED. */
const passThrough = (path: string): RpcMethod => ({ path, requestStream: false, responseStream: false, requestDeserialize: (b: Buffer) => b, responseSerialize: (v: unknown) => v as Buffer });
const takeRequest = (msg: unknown, call: RpcCall) => {
  call.request = msg;
};

export const defaultProtoDir = (root: string) => join(root, 'proto');
