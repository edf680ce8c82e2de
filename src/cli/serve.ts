// `duet serve`: flags (argv, DUET_* variables, --config file) into server options, the startup log, and
// a graceful shutdown on SIGTERM/SIGINT. Parses and wires; nothing else.

import { parseArgs } from 'node:util';
import { resolve as resolvePath } from 'node:path';
import { startServer } from '../server.js';
import { describeTls, TlsConfigError } from '../core/tls.js';
import { Logger } from '../core/log.js';
import { InferenceError } from '../core/errors.js';
import { COMPRESSION_LEVELS } from '../protocols/grpc/server.js';
import { tlsFromFlags } from './tls-flags.js';
import { accessOptions, describeAccess } from './access.js';
import { FlagError, parseArgsOptions, resolve, type Source } from './flags.js';
import { readConfigFile } from './config-file.js';
import { SERVE_FLAGS, serveHelp, type ServeValues } from './serve-flags.js';
import { versionText } from './version.js';

/** A usage error: message on stderr, exit 2. */
function usage(message: string): never {
  process.stderr.write(`duet serve: ${message}\n`);
  process.exit(2);
}

/** After SIGTERM, drain and grace, how long the CLI still waits before it exits anyway (pod termination budgets count it). */
export const FORCED_EXIT_MARGIN_MS = 5000;

const fromWhere = (s: Source | undefined, flag: string) => (s === undefined || s === 'the command line' ? `--${flag}` : s.replace(/^environment variable /, ''));

/** Triton's rules: --load-model needs explicit mode, and '*' must come alone. */
function checkModelControl(v: ServeValues): void {
  const m = v['model-control-mode'];
  const load = v['load-model'];
  if (load.length && m !== 'explicit') usage(`--load-model needs --model-control-mode explicit (the mode is ${m}, which loads every model)`);
  if (load.includes('*') && load.length > 1) usage(`--load-model '*' loads every model, so it must be the only --load-model`);
}

/** The flags' values from argv, the environment and the config file; exits 2 on anything wrong. */
async function readFlags(argv: string[]): Promise<{ values: ServeValues; sources: Partial<Record<keyof ServeValues, Source>>; configPath?: string } | undefined> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...parseArgsOptions(SERVE_FLAGS), config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
      strict: true,
    }).values;
  } catch (e) {
    usage(`${(e as Error).message}\n\n${serveHelp()}`);
  }
  if (parsed.help) {
    process.stdout.write(serveHelp());
    return undefined;
  }
  if (parsed.version) {
    process.stdout.write(versionText());
    return undefined;
  }
  try {
    const configPath = parsed.config ?? process.env.DUET_CONFIG;
    const file = configPath === undefined ? undefined : await readConfigFile(configPath);
    return { ...resolve(SERVE_FLAGS, parsed, process.env, file, ['DUET_CONFIG']), configPath };
  } catch (e) {
    if (e instanceof FlagError) usage(e.message);
    throw e;
  }
}

export async function serve(argv: string[]): Promise<void> {
  const flags = await readFlags(argv);
  if (!flags) return;
  const { values: v, sources, configPath } = flags;
  const repos = v['model-repository'];
  if (repos.length === 0) usage(`--model-repository is required (or DUET_MODEL_REPOSITORY, or model-repository in the --config file)\n\n${serveHelp()}`);
  checkModelControl(v);
  let tls;
  let access;
  try {
    tls = tlsFromFlags(v);
    access = accessOptions(v, fromWhere(sources['api-key'], 'api-key'));
  } catch (e) {
    if (e instanceof TlsConfigError || e instanceof InferenceError) usage(e.message);
    throw e;
  }
  const logger = new Logger({ level: v['log-level'], format: v['log-format'] });
  const log = logger.log;
  for (const w of tls.warnings) logger.warn(w);
  if (configPath !== undefined) log(`config file: ${resolvePath(configPath)}`);
  // Verbose: each setting that was given and where from; a secret's value never.
  for (const [name, source] of Object.entries(sources)) {
    const value = SERVE_FLAGS[name as keyof typeof SERVE_FLAGS].secret ? '(secret)' : JSON.stringify(v[name as keyof ServeValues]);
    logger.verbose(`--${name} ${value} from ${source}`);
  }
  const mode = v['model-control-mode'];
  const load = v['load-model'];
  log(`model control mode ${mode}${mode === 'poll' ? ` (every ${v['repository-poll-secs']} s)` : ''}${load.length ? `, loading ${load.join(', ')}` : ''}`);
  const graceMs = v['shutdown-grace-secs'];
  const drainMs = v['shutdown-drain-secs'];
  const streamIdleTimeoutMs = v['stream-idle-timeout'];
  const maxBodyBytes = v['http-max-body'];
  const grpcMaxMessageBytes = v['grpc-max-message'];
  const compression = v['grpc-infer-response-compression-level'];
  const maxStreams = v['grpc-max-concurrent-streams'];
  const requestTimeoutMs = v['request-timeout'] * 1000;
  const maxInstances = v['max-instances-per-model'];
  const dirs = repos.map((r) => resolvePath(r));
  log(`loading models from ${dirs.join(', ')}`);
  const endpoint = v['trace-otlp-endpoint'] ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  // A server that cannot start (a missing repository, a port in use) says why in the log, in its format.
  const server = await startServer({
    modelRepository: dirs.length === 1 ? dirs[0] : dirs,
    modelName: v['model-name'],
    host: v.host,
    httpPort: v['http-port'],
    maxBodyBytes,
    maxInflightBytes: v['max-inflight-bytes'],
    requestTimeoutMs,
    strictReadiness: v['strict-readiness'],
    grpcPort: v['grpc-port'],
    grpcMaxMessageBytes,
    grpcWindowBytes: v['grpc-window'],
    predictorModel: v['predictor-model'],
    generateModel: v['generate-model'],
    grpcKeepaliveTimeMs: v['grpc-keepalive-time-ms'],
    grpcKeepaliveTimeoutMs: v['grpc-keepalive-timeout-ms'],
    grpcInferResponseCompressionLevel: COMPRESSION_LEVELS[compression],
    grpcMaxConcurrentStreams: maxStreams,
    tracing: endpoint ? { otlpEndpoint: endpoint, serviceName: process.env.OTEL_SERVICE_NAME ?? 'duet' } : undefined,
    modelControlMode: mode,
    loadModels: load,
    repositoryPollSecs: v['repository-poll-secs'],
    maxInstancesPerModel: maxInstances,
    metricsPort: v['metrics-port'],
    tls: tls.tls,
    grpcTls: tls.grpcTls,
    ...access,
    shutdownGraceMs: graceMs,
    streamIdleTimeoutMs,
    log,
    accessLog: v['access-log'],
    console: !v['no-console'],
    answerPollUs: v['answer-poll-us'],
  }).catch((e: Error) => {
    logger.error(`cannot start: ${e.message}`);
    process.exit(1);
  });
  // Handlers first: a SIGTERM that arrives while the startup lines are written must still shut down gracefully.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const drain = drainMs ? `not ready, serving ${drainMs / 1000} s more (--shutdown-drain-secs), then ` : '';
    log(`${signal}: ${drain}finishing requests in flight (grace period ${graceMs / 1000} s), then exiting`);
    // Only a model stuck in its own code can outlast the grace period; it must not keep the process up for ever.
    setTimeout(() => {
      logger.error(`still busy ${(drainMs + graceMs + FORCED_EXIT_MARGIN_MS) / 1000} s after ${signal}; exiting anyway`);
      process.exit(1);
    }, drainMs + graceMs + FORCED_EXIT_MARGIN_MS).unref();
    // Readiness off now; the listeners stay open until the balancers' health checks have seen it.
    server.dataPlane.beginShutdown();
    const drained = new Promise((r) => setTimeout(r, drainMs));
    drained.then(() => server.stop(graceMs)).then(({ cut }) => {
      if (cut.rest + cut.grpc === 0) process.exit(0);
      logger.warn(`shutdown cut ${cut.rest} REST and ${cut.grpc} gRPC requests or streams still running at the end of the ${graceMs / 1000} s grace period`);
      process.exit(1);
    }, (e) => {
      logger.error(`error during shutdown: ${(e as Error).message}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const index = await server.dataPlane.repositoryIndex();
  const w = Math.max(5, ...index.map((e) => e.name.length));
  log(`models:\n${index.map((e) => `  ${e.name.padEnd(w)}  ${(e.version || '-').padEnd(3)}  ${e.state}${e.reason ? `  ${e.reason}` : ''}`).join('\n')}`);
  // Which listeners use TLS, so an operator can see it at a glance.
  const httpTls = describeTls(tls.tls);
  const grpcTls = describeTls(tls.grpcTls === undefined ? tls.tls : tls.grpcTls);
  const scheme = httpTls ? 'https' : 'http';
  const note = (d: string | undefined) => (d ? ` (${d})` : '');
  log(`REST (KServe v2) listening on ${scheme}://${server.http.address}:${server.http.port}${note(httpTls)}`);
  if (server.console) log(`web console at ${scheme}://${server.http.address}:${server.http.port}/`);
  if (server.metrics) log(`Prometheus metrics at ${scheme}://${server.metrics.address}:${server.metrics.port}/metrics${note(httpTls)}`);
  for (const line of describeAccess(access)) log(line);
  if (!httpTls && !grpcTls) log('TLS: off (plaintext on every port; set --tls-cert and --tls-key)');
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  log(`limits: ${mib(server.budget.limit)} in flight (--max-inflight-bytes), REST bodies up to ${mib(maxBodyBytes)}, `
    + `gRPC messages up to ${mib(grpcMaxMessageBytes)}, stalled uploads dropped after ${requestTimeoutMs / 1000} s, `
    + `${streamIdleTimeoutMs ? `idle stream readers after ${streamIdleTimeoutMs / 1000} s` : 'idle stream readers kept'}, at most ${maxInstances} instances per model`);
  if (server.grpc) log(`gRPC (inference.GRPCInferenceService, Predictor, Health, reflection) listening on ${server.grpc.address}:${server.grpc.port}${note(grpcTls)}`
    + `, inference responses ${compression === 'none' ? 'uncompressed' : `compressed (${compression})`}, ${maxStreams ?? 'unlimited'} streams per connection`);
  log(`log: ${logger.level} and above as ${logger.format}; access log ${v['access-log'] ? 'on' : 'off (--access-log)'}`);
}
