#!/usr/bin/env node
// duet <command> [flags]: parses flags and wires pieces; nothing else.

import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { startServer } from '../server.js';
import { defaultInflightBytes } from '../core/budget.js';
import { DEFAULT_MAX_BODY, DEFAULT_REQUEST_TIMEOUT_MS } from '../protocols/http/server.js';
import { describeTls, TlsConfigError } from '../core/tls.js';
import { TLS_FLAGS, TLS_HELP, tlsFromFlags, type TlsFlags } from './tls-flags.js';
import { DEFAULT_GRACE_MS, DEFAULT_MAX_INSTANCES, DEFAULT_POLL_SECS, MODEL_CONTROL_MODES, type ModelControlMode } from '../model-manager.js';
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from '../protocols/lifecycle.js';
import { COMPRESSION_LEVELS } from '../protocols/grpc/server.js';
import { ACCESS_FLAGS, ACCESS_HELP, accessOptions, describeAccess, type AccessOptions } from './access.js';

const HELP = `duet — a model inference server (KServe v2 / Triton protocol)

Usage:
  duet serve --model-repository DIR [options]
  duet bench [--model NAME] [--protocol grpc|http-json|http-binary|all] [--concurrency 1,4,16,64]
             [--duration S] [--url HOST:PORT] [options]   (duet bench --help for all of them)

Options for serve:
  --model-repository DIR   Triton-layout model repository (required)
  --host HOST              address to bind (default 0.0.0.0)
  --http-port N            REST port (default 8000; 0 picks a free port)
  --grpc-port N            gRPC port (default 8001; 0 picks a free port; off turns gRPC off)
  --grpc-max-message BYTES largest gRPC message either way (default 2147483647, as Triton's client)
  --grpc-window BYTES      HTTP/2 flow-control window for gRPC streams and connections (default 8388608)
  --grpc-keepalive-time-ms N     ping an idle gRPC connection every N ms (default 7200000)
  --grpc-keepalive-timeout-ms N  close it when a ping is not answered in N ms (default 20000)
  --grpc-infer-response-compression-level none|low|medium|high
                           gzip/deflate ModelInfer and ModelStreamInfer responses for clients that accept it
                           (zlib level 1, 6 or 9; default none, as Triton)
  --grpc-max-concurrent-streams N  HTTP/2 streams a gRPC connection may open at once
                           (default 4294967295, Node's: no limit)
  --predictor-model NAME   the model behind Predictor.Predict (default my_model)
  --generate-model NAME    the model duet.Generator runs when a request names none (default tiny_gpt)
  --metrics-port N         Prometheus metrics at GET /metrics (default 8002; 0 picks a free port; off turns it off)
  --http-max-body BYTES    largest REST request body, after decompression (default ${DEFAULT_MAX_BODY})
  --max-inflight-bytes N   request bytes held in memory at once, all requests together; one that does
                           not fit waits up to 1 s, then gets 429 / RESOURCE_EXHAUSTED (default: a
                           quarter of memory, 256 MiB to 8 GiB; here ${defaultInflightBytes()})
  --request-timeout SECS   drop a request whose body stops arriving for SECS (default ${DEFAULT_REQUEST_TIMEOUT_MS / 1000})
  --strict-readiness B     server ready only when every model is (default true)
  --model-control-mode M   none (default): load every model at start, refuse load/unload requests;
                           explicit: load/unload (and config overrides) through the repository API;
                           poll: load every model, then follow changes to the repository folders
  --load-model NAME        explicit mode: a model to load at start (repeatable; '*' for all; default none)
  --repository-poll-secs N poll mode: seconds between repository scans (default ${DEFAULT_POLL_SECS})
  --max-instances-per-model N  refuse configs whose instance_group counts add up above N
                           (default ${DEFAULT_MAX_INSTANCES}, four per core)
  --trace-otlp-endpoint U  turn OpenTelemetry tracing on, exporting over OTLP/HTTP to U
                           (e.g. http://localhost:4318/v1/traces; default: off, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  --shutdown-grace-secs N  on SIGTERM, requests in flight get N s to finish (default ${DEFAULT_GRACE_MS / 1000}); so do open
                           streams when their model is unloaded
  --stream-idle-timeout S  cancel a streaming response whose reader takes no data for S s (default ${DEFAULT_STREAM_IDLE_TIMEOUT_MS / 1000}; 0: never)
${TLS_HELP}${ACCESS_HELP}  -h, --help               show this help
`;

/** `off` (or `--flag=-1`) turns a listener off. */
const isOff = (v: string | undefined) => v === 'off' || v === '-1';

function int(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`duet: --${name} must be a non-negative integer, got '${v}'\n`);
    process.exit(2);
  }
  return n;
}

/** A duration in seconds (fractions allowed), as milliseconds. */
function durationMs(name: string, v: string | undefined, dfltMs: number): number {
  if (v === undefined) return dfltMs;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) {
    process.stderr.write(`duet: --${name} must be a non-negative number of seconds, got '${v}'\n`);
    process.exit(2);
  }
  return Math.round(n * 1000);
}

function usage(message: string): never {
  process.stderr.write(`duet serve: ${message}\n`);
  process.exit(2);
}

/** Triton's rules: --load-model needs explicit mode, and '*' must come alone. */
function modelControl(mode = 'none', loadModels: string[] = [], pollSecs: string | undefined) {
  const m = mode.toLowerCase() as ModelControlMode;
  if (!MODEL_CONTROL_MODES.includes(m)) usage(`--model-control-mode must be one of ${MODEL_CONTROL_MODES.join(', ')}, got '${mode}'`);
  if (loadModels.length && m !== 'explicit') usage(`--load-model needs --model-control-mode explicit (the mode is ${m}, which loads every model)`);
  if (loadModels.includes('*') && loadModels.length > 1) usage(`--load-model '*' loads every model, so it must be the only --load-model`);
  const secs = pollSecs === undefined ? DEFAULT_POLL_SECS : Number(pollSecs);
  if (!(secs > 0) || !Number.isFinite(secs)) usage(`--repository-poll-secs must be a number of seconds above 0, got '${pollSecs}'`);
  return { modelControlMode: m, loadModels, repositoryPollSecs: secs };
}

/** A value that must be above zero (a zero budget or timeout would refuse or drop everything). */
function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) usage(`--${name} must be a positive number, got '${v}'`);
  return n;
}

async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'model-repository': { type: 'string' },
      host: { type: 'string' },
      'http-port': { type: 'string' },
      'grpc-port': { type: 'string' },
      'grpc-max-message': { type: 'string' },
      'grpc-window': { type: 'string' },
      'predictor-model': { type: 'string' },
      'generate-model': { type: 'string' },
      'grpc-keepalive-time-ms': { type: 'string' },
      'grpc-keepalive-timeout-ms': { type: 'string' },
      'grpc-infer-response-compression-level': { type: 'string' },
      'grpc-max-concurrent-streams': { type: 'string' },
      'metrics-port': { type: 'string' },
      'http-max-body': { type: 'string' },
      'max-inflight-bytes': { type: 'string' },
      'request-timeout': { type: 'string' },
      'strict-readiness': { type: 'string' },
      'trace-otlp-endpoint': { type: 'string' },
      ...TLS_FLAGS,
      'model-control-mode': { type: 'string' },
      'load-model': { type: 'string', multiple: true },
      'repository-poll-secs': { type: 'string' },
      'max-instances-per-model': { type: 'string' },
      ...ACCESS_FLAGS,
      'shutdown-grace-secs': { type: 'string' },
      'stream-idle-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const repo = values['model-repository'];
  if (!repo) {
    process.stderr.write('duet serve: --model-repository is required\n\n' + HELP);
    process.exit(2);
  }
  let tls: TlsFlags;
  try {
    tls = tlsFromFlags(values);
  } catch (e) {
    if (!(e instanceof TlsConfigError)) throw e;
    process.stderr.write(`duet serve: ${e.message}\n`);
    process.exit(2);
  }
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  for (const w of tls.warnings) log(`warning: ${w}`);
  const control = modelControl(values['model-control-mode'], values['load-model'], values['repository-poll-secs']);
  const maxInstances = int('max-instances-per-model', values['max-instances-per-model'], DEFAULT_MAX_INSTANCES);
  if (maxInstances < 1) usage('--max-instances-per-model must be at least 1');
  log(`model control mode ${control.modelControlMode}${control.modelControlMode === 'poll' ? ` (every ${control.repositoryPollSecs} s)` : ''}${control.loadModels?.length ? `, loading ${control.loadModels.join(', ')}` : ''}`);
  let access: AccessOptions;
  try {
    access = accessOptions(values);
  } catch (e) {
    process.stderr.write(`duet serve: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const graceMs = durationMs('shutdown-grace-secs', values['shutdown-grace-secs'], DEFAULT_GRACE_MS);
  const streamIdleTimeoutMs = durationMs('stream-idle-timeout', values['stream-idle-timeout'], DEFAULT_STREAM_IDLE_TIMEOUT_MS);
  const maxBodyBytes = int('http-max-body', values['http-max-body'], DEFAULT_MAX_BODY);
  const grpcMaxMessageBytes = int('grpc-max-message', values['grpc-max-message'], 2 ** 31 - 1);
  const compression = values['grpc-infer-response-compression-level'] ?? 'none';
  if (!Object.hasOwn(COMPRESSION_LEVELS, compression)) usage(`--grpc-infer-response-compression-level must be none, low, medium or high, got '${compression}'`);
  const maxStreams = values['grpc-max-concurrent-streams'] === undefined ? undefined : int('grpc-max-concurrent-streams', values['grpc-max-concurrent-streams'], 0);
  if (maxStreams !== undefined && (maxStreams < 1 || maxStreams > 2 ** 32 - 1)) usage(`--grpc-max-concurrent-streams must be from 1 to 4294967295, got '${maxStreams}'`);
  const requestTimeoutMs = (positive('request-timeout', values['request-timeout']) ?? DEFAULT_REQUEST_TIMEOUT_MS / 1000) * 1000;
  log(`loading models from ${resolve(repo)}`);
  const server = await startServer({
    modelRepository: resolve(repo),
    host: values.host,
    httpPort: int('http-port', values['http-port'], 8000),
    maxBodyBytes,
    maxInflightBytes: positive('max-inflight-bytes', values['max-inflight-bytes']),
    requestTimeoutMs,
    strictReadiness: values['strict-readiness'] !== 'false',
    grpcPort: isOff(values['grpc-port']) ? null : int('grpc-port', values['grpc-port'], 8001),
    grpcMaxMessageBytes,
    grpcWindowBytes: int('grpc-window', values['grpc-window'], 8 * 1024 * 1024),
    predictorModel: values['predictor-model'],
    generateModel: values['generate-model'],
    grpcKeepaliveTimeMs: int('grpc-keepalive-time-ms', values['grpc-keepalive-time-ms'], 2 * 60 * 60 * 1000),
    grpcKeepaliveTimeoutMs: int('grpc-keepalive-timeout-ms', values['grpc-keepalive-timeout-ms'], 20_000),
    grpcInferResponseCompressionLevel: COMPRESSION_LEVELS[compression],
    grpcMaxConcurrentStreams: maxStreams,
    tracing: (() => {
      const endpoint = values['trace-otlp-endpoint'] ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
      return endpoint ? { otlpEndpoint: endpoint, serviceName: process.env.OTEL_SERVICE_NAME ?? 'duet' } : undefined;
    })(),
    ...control,
    maxInstancesPerModel: maxInstances,
    metricsPort: isOff(values['metrics-port']) ? null : int('metrics-port', values['metrics-port'], 8002),
    tls: tls.tls,
    grpcTls: tls.grpcTls,
    ...access,
    shutdownGraceMs: graceMs,
    streamIdleTimeoutMs,
    log,
  });
  // Handlers first: a SIGTERM that arrives while the startup lines are written must still shut down gracefully.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing requests in flight (grace period ${graceMs / 1000} s), then exiting`);
    // Only a model stuck in its own code can outlast the grace period; it must not keep the process up for ever.
    setTimeout(() => {
      log(`still busy ${graceMs / 1000 + 5} s after ${signal}; exiting anyway`);
      process.exit(1);
    }, graceMs + 5000).unref();
    server.stop(graceMs).then(({ cut }) => {
      if (cut.rest + cut.grpc === 0) process.exit(0);
      log(`shutdown cut ${cut.rest} REST and ${cut.grpc} gRPC requests or streams still running at the end of the ${graceMs / 1000} s grace period`);
      process.exit(1);
    }, (e) => {
      log(`error during shutdown: ${(e as Error).message}`);
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
  if (server.metrics) log(`Prometheus metrics at ${scheme}://${server.metrics.address}:${server.metrics.port}/metrics${note(httpTls)}`);
  for (const line of describeAccess(access)) log(line);
  if (!httpTls && !grpcTls) log('TLS: off (plaintext on every port; set --tls-cert and --tls-key)');
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  log(`limits: ${mib(server.budget.limit)} in flight (--max-inflight-bytes), REST bodies up to ${mib(maxBodyBytes)}, `
    + `gRPC messages up to ${mib(grpcMaxMessageBytes)}, stalled uploads dropped after ${requestTimeoutMs / 1000} s, `
    + `${streamIdleTimeoutMs ? `idle stream readers after ${streamIdleTimeoutMs / 1000} s` : 'idle stream readers kept'}, at most ${maxInstances} instances per model`);
  if (server.grpc) log(`gRPC (inference.GRPCInferenceService, Predictor, Health, reflection) listening on ${server.grpc.address}:${server.grpc.port}${note(grpcTls)}`
    + `, inference responses ${compression === 'none' ? 'uncompressed' : `compressed (${compression})`}, ${maxStreams ?? 'unlimited'} streams per connection`);
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'bench':
      return (await import('../bench/cli.js')).benchCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return;
    default:
      process.stderr.write(`duet: unknown command '${cmd}'\n\n${HELP}`);
      process.exit(2);
  }
}

main().catch((e) => {
  process.stderr.write(`duet: ${(e as Error).message}\n`);
  process.exit(1);
});
