// The gRPC front-end on @grpc/grpc-js with static protobufjs codecs: inference.GRPCInferenceService,
// the brief's Predictor, grpc.health.v1.Health and server reflection.

import { join } from 'node:path';
import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { DataPlane } from '../../dataplane.js';
import { healthImpl } from './health.js';
import type { Tracing } from '../../metrics/tracing.js';
import type { ListenerTls } from '../../core/tls.js';
import { generatorImpl, modelStreamInfer } from './streaming.js';
import { inferenceServiceImpl, predictorImpl, unary } from './service.js';
import { GENERATOR_SERVICE, HEALTH_SERVICE, INFERENCE_METHODS, INFERENCE_SERVICE, PREDICTOR_SERVICE } from './definitions.js';

export { GENERATOR_SERVICE, HEALTH_SERVICE, INFERENCE_SERVICE, PREDICTOR_SERVICE };

export interface GrpcServerOptions {
  host?: string;
  port?: number;
  /** Largest message in either direction; Triton's client allows 2^31-1. */
  maxMessageBytes?: number;
  /** HTTP/2 flow-control window per stream and per connection. */
  windowBytes?: number;
  /** The model behind Predictor.Predict. */
  predictorModel?: string;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  protoDir: string;
  tracing?: Tracing;
  /** Told of every finished call (for metrics): method name, status name, seconds. */
  observe?: (method: string, status: string, seconds: number) => void;
  /** Serve gRPC over TLS; with requireClientCert, a client without a certificate signed by `ca` is refused at the handshake. */
  tls?: ListenerTls;
}

export const DEFAULT_MAX_MESSAGE = 2 ** 31 - 1;
/** 8 MiB: a 600 KB image fits in the first window; the default 64 KiB window costs ~10 round trips. */
export const DEFAULT_WINDOW = 8 * 1024 * 1024;

export class GrpcServer {
  readonly server: grpc.Server;
  private readonly windowBytes: number;

  constructor(dp: DataPlane, private readonly opts: GrpcServerOptions) {
    const max = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    this.windowBytes = opts.windowBytes ?? DEFAULT_WINDOW;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      'grpc.keepalive_time_ms': opts.keepaliveTimeMs ?? 2 * 60 * 60 * 1000,
      'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs ?? 20_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    });
    const impl = inferenceServiceImpl(dp, opts.tracing);
    const handlers: grpc.UntypedServiceImplementation = {};
    const observed = (name: string, h: grpc.UntypedHandleCall) => observeCalls(name, h, opts.observe);
    for (const [name, [, , kind]] of Object.entries(INFERENCE_METHODS)) if (!kind) handlers[name] = observed(name, unary(impl[name]));
    handlers.ModelStreamInfer = observed('ModelStreamInfer', modelStreamInfer(dp) as grpc.UntypedHandleCall);
    this.server.addService(INFERENCE_SERVICE, handlers);
    this.server.addService(PREDICTOR_SERVICE, { Predict: observed('Predict', unary(predictorImpl(dp, opts.predictorModel ?? 'my_model') as never)) });
    this.server.addService(GENERATOR_SERVICE, { Generate: observed('Generate', generatorImpl(dp) as grpc.UntypedHandleCall) });
    this.server.addService(HEALTH_SERVICE, healthImpl(dp) as unknown as grpc.UntypedServiceImplementation);
    const pkg = loadSync(['grpc_service.proto', 'model_config.proto', 'predictor.proto', 'health.proto', 'generator.proto'], {
      includeDirs: [opts.protoDir], keepCase: true,
    });
    const reflection = new ReflectionService(pkg);
    unDotPackagelessNames(reflection);
    reflection.addToServer(this.server);
  }

  async listen(): Promise<{ address: string; port: number }> {
    const host = this.opts.host ?? '0.0.0.0';
    const addr = host.includes(':') ? `[${host}]:${this.opts.port ?? 8001}` : `${host}:${this.opts.port ?? 8001}`;
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(addr, credentials(this.opts.tls), (e, p) => (e ? reject(e) : resolve(p))));
    raiseFlowControlWindows(this.server, this.windowBytes);
    return { address: host, port };
  }

  /** Stop accepting; calls in flight finish (forced after `graceMs`). */
  close(graceMs = 30_000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function credentials(tls: ListenerTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const buf = (pem: string | Buffer) => (typeof pem === 'string' ? Buffer.from(pem) : pem);
  return grpc.ServerCredentials.createSsl(tls.ca === undefined ? null : buf(tls.ca), [{ cert_chain: buf(tls.cert), private_key: buf(tls.key) }], tls.requireClientCert);
}

const STATUS_NAME = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])) as Record<number, string>;

/** Wrap a handler so each call reports its method, final status and duration. */
function observeCalls(method: string, handler: grpc.UntypedHandleCall, observe: GrpcServerOptions['observe']): grpc.UntypedHandleCall {
  if (!observe) return handler;
  return ((call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
    const start = performance.now();
    const done = (code: number) => observe(method, STATUS_NAME[code] ?? String(code), (performance.now() - start) / 1000);
    if (callback) {
      return (handler as grpc.handleUnaryCall<unknown, unknown>)(call, (err, value) => {
        done(err ? ((err as grpc.ServiceError).code ?? grpc.status.UNKNOWN) : grpc.status.OK);
        callback(err, value);
      });
    }
    const stream = call as unknown as grpc.ServerWritableStream<unknown, unknown>;
    let reported = false;
    const once = (code: number) => {
      if (!reported) {
        reported = true;
        done(code);
      }
    };
    stream.on('finish', () => once(grpc.status.OK));
    stream.on('cancelled', () => once(grpc.status.CANCELLED));
    stream.on('error', (e: grpc.ServiceError) => once(e.code ?? grpc.status.UNKNOWN));
    return (handler as (c: unknown) => void)(call);
  }) as grpc.UntypedHandleCall;
}

/**
 * grpc-js has no server option for HTTP/2 windows, so each new session gets larger ones: the
 * SETTINGS initial window for its streams and the connection window. This reaches into grpc-js's
 * list of its http2 servers (call after bindAsync); if that ever moves, the defaults stay
 * (slower on large messages, still correct).
 */
export function raiseFlowControlWindows(server: grpc.Server, windowBytes: number): void {
  const servers = (server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map) || windowBytes <= 65535) return;
  const win = Math.min(windowBytes, 2 ** 31 - 1);
  for (const s of servers.keys()) {
    s.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: win });
        session.setLocalWindowSize(win);
      } catch {
        // session already closing
      }
    });
  }
}

/**
 * @grpc/reflection 1.0.x names the symbols of a file without a package with a leading dot, so
 * list_services answered '.Predictor' and file_containing_symbol 'Predictor' was NOT_FOUND (grpcurl could
 * neither describe nor call it). Index those names without the dot too. This reaches into the library's
 * private indexes; if they ever move, reflection stays as the library makes it.
 */
function unDotPackagelessNames(reflection: ReflectionService): void {
  type Index = { services?: Record<string, unknown>; symbols?: Record<string, unknown> };
  const r = reflection as unknown as { v1?: Index; v1Alpha?: Index };
  for (const impl of [r.v1, r.v1Alpha]) {
    if (!impl) continue;
    const { services, symbols } = impl;
    if (services && typeof services === 'object') {
      for (const [name, svc] of Object.entries(services)) {
        if (name.startsWith('.')) {
          delete services[name];
          services[name.slice(1)] = svc;
        }
      }
    }
    if (symbols && typeof symbols === 'object') {
      for (const [name, file] of Object.entries(symbols)) if (name.startsWith('.')) symbols[name.slice(1)] ??= file;
    }
  }
}

export const defaultProtoDir = (root: string) => join(root, 'proto');
