// Wires the pieces of one server process together: repository, data plane, front-ends.

import type { AddressInfo } from 'node:net';
import { DataPlane } from './dataplane.js';
import { createApi } from './api/index.js';
import { DEFAULT_GRACE_MS, ModelManager, type ModelControlMode } from './model-manager.js';
import { ByteBudget, defaultInflightBytes } from './core/budget.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, HttpServer } from './protocols/http/server.js';
import { GrpcServer, type GrpcServerOptions } from './protocols/grpc/server.js';
import type { RestRoute } from './protocols/http/route-table.js';
import { fileURLToPath } from 'node:url';
import { Metrics, MetricsServer } from './metrics/prometheus.js';
import { Tracing, type TracingOptions } from './metrics/tracing.js';
import { checkTls, listenerTls, type TlsOptions } from './core/tls.js';
import { AccessControl, type Restrictions } from './security/auth.js';
import { OriginPolicy } from './security/cors.js';
import type { LogFn } from './core/log.js';
import { accessLog } from './api/access-log.js';
import { ConsoleSite } from './protocols/http/console.js';
import { DEFAULT_GENERATE_MODEL } from './dataplane/conventions.js';
import { setAnswerPollWindow } from './backends/answer-poll.js';

export interface ServerOptions {
  /** One model repository, or several searched together (a model name may be in only one). */
  modelRepository: string | string[];
  /** A repository folder holding one model (a model folder or a bare model file, as KServe mounts it) serves it under this name. */
  modelName?: string;
  host?: string;
  httpPort?: number;
  maxBodyBytes?: number;
  /** gRPC port; 0 picks a free one; null turns gRPC off. */
  grpcPort?: number | null;
  grpcMaxMessageBytes?: number;
  grpcWindowBytes?: number;
  grpcKeepaliveTimeMs?: number;
  grpcKeepaliveTimeoutMs?: number;
  /** zlib level (1-9) for ModelInfer/ModelStreamInfer responses to clients accepting gzip or deflate; absent: none. */
  grpcInferResponseCompressionLevel?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS on the gRPC port; absent: Node's default (2^32-1). */
  grpcMaxConcurrentStreams?: number;
  /** The model behind gRPC Predictor.Predict (default my_model). */
  predictorModel?: string;
  /** The model duet.Generator runs when a request names none (default tiny_gpt). */
  generateModel?: string;
  /** OpenTelemetry tracing; off when absent. */
  tracing?: TracingOptions;
  /** Prometheus port; 0 picks a free one; null turns metrics off. */
  metricsPort?: number | null;
  strictReadiness?: boolean;
  /** HTTPS for REST and metrics; with `clientCa`, mutual TLS. Off when absent. */
  tls?: TlsOptions;
  /** TLS for gRPC: absent means the same as `tls`; null means plaintext gRPC. */
  grpcTls?: TlsOptions | null;
  /** Triton's model control: 'none' (default) loads every model and refuses load/unload requests. */
  modelControlMode?: ModelControlMode;
  /** 'explicit' mode: models to load at start ('*' for all). */
  loadModels?: string[];
  /** 'poll' mode: seconds between repository scans. */
  repositoryPollSecs?: number;
  maxInstancesPerModel?: number;
  /** Bytes in flight across all requests (--max-inflight-bytes); default from the machine's memory. */
  maxInflightBytes?: number;
  /** A request body or message that stalls this long (no bytes) is dropped (--request-timeout). */
  requestTimeoutMs?: number;
  /** Reserves memory for the bytes a gRPC call receives; default: the in-flight budget REST shares. */
  grpcReserve?: GrpcServerOptions['reserve'];
  /** Every REST, gRPC and metrics call but health live/ready needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Triton's --http-restricted-api groups (header names as sent). */
  httpRestrictedApis?: Restrictions;
  /** Triton's --grpc-restricted-protocol groups (metadata keys as sent, 'triton-grpc-protocol-' included). */
  grpcRestrictedProtocols?: Restrictions;
  /** Browser origins allowed to call REST (CORS), '*' for any; others are refused. */
  corsAllowOrigins?: string[];
  /** Where the server's log lines go (a plain `(line) => ...` will do); none when absent. */
  log?: LogFn;
  /** One log line per finished call (needs `log`); off when absent. */
  accessLog?: boolean;
  /** How long requests in flight get to finish at shutdown, and open streams at an unload (default 30 s). */
  shutdownGraceMs?: number;
  /** A streaming response whose reader takes no data for this long is cancelled (default 60 s; 0: never). */
  streamIdleTimeoutMs?: number;
  /** The web console at / on the REST port (default on; its files come from `npm run build`). */
  console?: boolean;
  /**
   * How long the main thread polls for a model worker's answer while one request alone waits (default
   * 1000 µs; 0: never). Process-wide: the last server started sets it (answer-poll.ts).
   */
  answerPollUs?: number;
}

/** What shutdown had to cut: requests and streams still running at the end of the grace period, per front-end. */
export interface StopReport {
  cut: { rest: number; grpc: number };
}

export interface RunningServer {
  dataPlane: DataPlane;
  models: ModelManager;
  http: AddressInfo;
  /** Every REST route the HTTP port answers (what it dispatches with and /v2/openapi.json documents). */
  restRoutes: readonly RestRoute[];
  grpc?: { address: string; port: number };
  metrics?: AddressInfo;
  /** True when the web console is served at / on the REST port. */
  console: boolean;
  /** The in-flight byte budget shared by every request. */
  budget: ByteBudget;
  /**
   * Readiness off, stop accepting, let requests in flight finish and write their responses, end idle
   * connections and streams, unload every model. Streams still open near the end of `graceMs`
   * (default: the server's shutdownGraceMs) end with UNAVAILABLE; what is left at `graceMs` is cut.
   */
  stop(graceMs?: number): Promise<StopReport>;
}

/** Extensions of Triton's protocol this server speaks (reported in server metadata). */
export const EXTENSIONS = ['classification', 'model_repository', 'model_configuration', 'binary_tensor_data', 'statistics', 'generate'];

const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? (() => {});
  const grpcTls = opts.grpcTls === undefined ? opts.tls : opts.grpcTls ?? undefined;
  // Bad PEM fails here with the option named, before any model loads.
  if (opts.tls) checkTls(opts.tls);
  if (grpcTls && grpcTls !== opts.tls) checkTls(grpcTls, { cert: 'grpcTls.cert', key: 'grpcTls.key', clientCa: 'grpcTls.clientCa' });
  const httpAccess = new AccessControl({ apiKey: opts.apiKey, restrictions: opts.httpRestrictedApis, restrictedNoun: 'API' });
  const grpcAccess = new AccessControl({ apiKey: opts.apiKey, restrictions: opts.grpcRestrictedProtocols, restrictedNoun: 'protocol' });
  const origins = new OriginPolicy(opts.corsAllowOrigins);
  const graceMs = opts.shutdownGraceMs ?? DEFAULT_GRACE_MS;
  if (opts.answerPollUs !== undefined) setAnswerPollWindow(opts.answerPollUs);
  const models = new ModelManager(opts.modelRepository, {
    log, controlMode: opts.modelControlMode, loadModels: opts.loadModels,
    pollSecs: opts.repositoryPollSecs, maxInstancesPerModel: opts.maxInstancesPerModel, unloadGraceMs: graceMs, modelName: opts.modelName,
  });
  const dataPlane = new DataPlane(models, {
    extensions: EXTENSIONS, strictReadiness: opts.strictReadiness, predictorModel: opts.predictorModel, generateModel: opts.generateModel,
  });
  const budget = new ByteBudget(opts.maxInflightBytes ?? defaultInflightBytes());
  const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const metrics = new Metrics(() => models.allLoaded().map((sv) => ({ name: sv.name, version: sv.version, stats: sv.stats, pending: sv.scheduler.pending })), budget);
  const tracing = opts.tracing && (opts.tracing.otlpEndpoint || opts.tracing.exporter) ? new Tracing(opts.tracing) : undefined;
  await models.start();
  // Every call on every protocol runs through one wrapper: auth, tracing, error mapping, metrics.
  const api = createApi(dataPlane, {
    access: { http: httpAccess, grpc: grpcAccess }, tracing,
    observe: (protocol, label, code, seconds) => metrics.observe(protocol, label, code, seconds),
    accessLog: opts.accessLog && opts.log ? accessLog(opts.log) : undefined,
  });
  // Built whether or not gRPC listens: gRPC-Web on the REST port runs through its dispatch.
  const grpc = new GrpcServer(api, {
    host: opts.host, port: opts.grpcPort ?? undefined, maxMessageBytes: opts.grpcMaxMessageBytes,
    windowBytes: opts.grpcWindowBytes, protoDir: PROTO_DIR,
    inferResponseCompressionLevel: opts.grpcInferResponseCompressionLevel, maxConcurrentStreams: opts.grpcMaxConcurrentStreams,
    keepaliveTimeMs: opts.grpcKeepaliveTimeMs, keepaliveTimeoutMs: opts.grpcKeepaliveTimeoutMs,
    requestTimeoutMs, reserve: opts.grpcReserve ?? ((bytes, signal) => budget.acquire(bytes, signal)),
    tryReserve: opts.grpcReserve ? undefined : (bytes) => budget.tryAcquire(bytes),
    streamIdleTimeoutMs: opts.streamIdleTimeoutMs,
    tls: grpcTls && listenerTls(grpcTls),
    web: { origins, allowHeaders: grpcAccess.headerNames },
  });
  const site = opts.console === false ? undefined
    : ConsoleSite.load(undefined, { model_control_mode: models.controlMode, generate_model: opts.generateModel ?? DEFAULT_GENERATE_MODEL });
  if (opts.console !== false && !site) log('web console: not built (npm run build writes it to dist/console); / answers 404');
  const http = new HttpServer(api, {
    host: opts.host, port: opts.httpPort, maxBodyBytes: opts.maxBodyBytes, budget, requestTimeoutMs, streamIdleTimeoutMs: opts.streamIdleTimeoutMs,
    tls: opts.tls && listenerTls(opts.tls),
    admission: { access: httpAccess, origins },
    grpcWeb: (req, res) => grpc.web.http1(req, res),
    console: site,
  });
  const httpAddr = await http.listen();
  let grpcAddr: { address: string; port: number } | undefined;
  if (opts.grpcPort !== null) {
    try {
      grpcAddr = await grpc.listen();
    } catch (e) {
      await http.close();
      await models.close();
      throw e;
    }
  }
  let metricsServer: MetricsServer | undefined;
  let metricsAddr: AddressInfo | undefined;
  if (opts.metricsPort !== null) {
    metricsServer = new MetricsServer(metrics, { host: opts.host, port: opts.metricsPort ?? undefined, tls: opts.tls && listenerTls(opts.tls), access: httpAccess });
    try {
      metricsAddr = await metricsServer.listen();
    } catch (e) {
      await Promise.all([http.close(), grpc.close()]);
      await models.close();
      throw e;
    }
  }
  let stopping: Promise<StopReport> | undefined;
  return {
    dataPlane,
    models,
    http: httpAddr,
    restRoutes: http.routes.routes,
    grpc: grpcAddr,
    metrics: metricsAddr,
    console: site !== undefined,
    budget,
    stop(grace = graceMs) {
      stopping ??= (async () => {
        const deadline = Date.now() + grace;
        dataPlane.beginShutdown();
        const [rest, rpc] = await Promise.all([http.close(grace), grpc.close(grace)]);
        await models.close(Math.max(0, deadline - Date.now()));
        await metricsServer?.close();
        await tracing?.shutdown();
        return { cut: { rest: rest.cut, grpc: rpc.cut } };
      })();
      return stopping;
    },
  };
}
