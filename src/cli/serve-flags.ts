// Every flag of `duet serve`, once: argv, DUET_* variables, the config file and --help all read this
// table. Defaults come from the component that owns them.

import { defaultInflightBytes } from '../core/budget.js';
import { DEFAULT_HOST } from '../core/listen.js';
import { DEFAULT_LOG_FORMAT, DEFAULT_LOG_LEVEL, LOG_FORMATS, LOG_LEVELS } from '../core/log.js';
import { DEFAULT_GENERATE_MODEL, DEFAULT_PREDICTOR_MODEL } from '../dataplane/conventions.js';
import { DEFAULT_METRICS_PORT } from '../metrics/prometheus.js';
import { DEFAULT_GRACE_MS, DEFAULT_MAX_INSTANCES, DEFAULT_POLL_SECS, MODEL_CONTROL_MODES } from '../model-manager.js';
import { DEFAULT_GRPC_PORT, DEFAULT_KEEPALIVE_TIME_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, DEFAULT_MAX_MESSAGE, DEFAULT_WINDOW } from '../protocols/grpc/server.js';
import { DEFAULT_HTTP_PORT, DEFAULT_MAX_BODY, DEFAULT_REQUEST_TIMEOUT_MS } from '../protocols/http/server.js';
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from '../protocols/lifecycle.js';
import { DEFAULT_ANSWER_POLL_US } from '../backends/answer-poll.js';
import { bool, choice, helpText, int, list, paths, port, positive, seconds, text, type FlagValues } from './flags.js';

const COMPRESSION = ['none', 'low', 'medium', 'high'] as const;

export const SERVE_FLAGS = {
  'model-repository': paths('DIR', 'Triton-layout model repository (required; repeatable: the models of all of them\nare served; a model name in two of them stays UNAVAILABLE, naming both)'),
  'model-name': text('NAME', 'when a --model-repository folder is itself one model (a config.pbtxt or version\n'
    + 'folders at its top, or a bare model file such as model.onnx, as KServe mounts\n'
    + '/mnt/models), serve it under NAME; a repository of model folders ignores it'),
  host: text('HOST', 'address every listener binds to', { dflt: DEFAULT_HOST }),
  'http-port': int('N', 'REST port (0 picks a free port)', DEFAULT_HTTP_PORT, { max: 65535 }),
  'grpc-port': port('gRPC port (0 picks a free port; off turns gRPC off)', DEFAULT_GRPC_PORT),
  'metrics-port': port('Prometheus metrics at GET /metrics (0 picks a free port; off turns it off)', DEFAULT_METRICS_PORT),
  'no-console': bool('do not serve the web console at / on the REST port (it needs no key to load;\nits calls need the API key like any other)', false),

  'grpc-max-message': int('BYTES', 'largest gRPC message either way (as Triton\'s client)', DEFAULT_MAX_MESSAGE),
  'grpc-window': int('BYTES', 'HTTP/2 flow-control window for gRPC streams and connections', DEFAULT_WINDOW),
  'grpc-keepalive-time-ms': int('N', 'ping an idle gRPC connection every N ms', DEFAULT_KEEPALIVE_TIME_MS),
  'grpc-keepalive-timeout-ms': int('N', 'close it when a ping is not answered in N ms', DEFAULT_KEEPALIVE_TIMEOUT_MS),
  'grpc-infer-response-compression-level': choice(COMPRESSION,
    'gzip/deflate ModelInfer and ModelStreamInfer responses for clients that accept it\n(zlib level 1, 6 or 9; none as Triton)', 'none'),
  'grpc-max-concurrent-streams': int('N', 'HTTP/2 streams a gRPC connection may open at once', undefined,
    { min: 1, max: 2 ** 32 - 1, shown: '4294967295, Node\'s: no limit' }),
  'predictor-model': text('NAME', 'the model behind Predictor.Predict', { dflt: DEFAULT_PREDICTOR_MODEL }),
  'generate-model': text('NAME', 'the model duet.Generator runs when a request names none', { dflt: DEFAULT_GENERATE_MODEL }),

  'http-max-body': int('BYTES', 'largest REST request body, after decompression', DEFAULT_MAX_BODY),
  'max-inflight-bytes': positive('N', 'request bytes held in memory at once, all requests together; one that does\n'
    + 'not fit waits up to 1 s, then gets 429 / RESOURCE_EXHAUSTED', undefined,
  `a quarter of memory, 256 MiB to 8 GiB; here ${defaultInflightBytes()}`),
  'request-timeout': positive('SECS', 'drop a request whose body stops arriving for SECS', DEFAULT_REQUEST_TIMEOUT_MS / 1000),
  'stream-idle-timeout': seconds('SECS', 'cancel a streaming response whose reader takes no data for SECS (0: never)', DEFAULT_STREAM_IDLE_TIMEOUT_MS),
  'shutdown-drain-secs': seconds('SECS', 'on SIGTERM, readiness turns false SECS before the listeners close, so load\n'
    + 'balancers polling /v2/health/ready stop sending first; requests keep being served meanwhile', 0),
  'shutdown-grace-secs': seconds('SECS', 'on SIGTERM, requests in flight get SECS to finish; so do open streams\nwhen their model is unloaded', DEFAULT_GRACE_MS),

  'strict-readiness': bool('server ready only when every model is', true, 'B'),
  'model-control-mode': choice(MODEL_CONTROL_MODES, 'none: load every model at start, refuse load/unload requests;\n'
    + 'explicit: load/unload (and config overrides) through the repository API;\n'
    + 'poll: load every model, then follow changes to the repository folders', 'none'),
  'load-model': list('NAME', 'explicit mode: a model to load at start (repeatable; \'*\' for all; default none)'),
  'repository-poll-secs': positive('SECS', 'poll mode: seconds between repository scans', DEFAULT_POLL_SECS),
  'max-instances-per-model': int('N', 'refuse configs whose instance_group counts add up above N', DEFAULT_MAX_INSTANCES,
    { min: 1, shown: `four per core; here ${DEFAULT_MAX_INSTANCES}` }),

  'api-key': text('KEY', 'every call but health live/ready needs \'Authorization: Bearer KEY\' (REST, gRPC\n'
    + 'metadata, metrics); prefer --api-key-file or DUET_API_KEY (argv is visible in ps)', { secret: true }),
  'api-key-file': text('FILE', 'read the API key from FILE (surrounding whitespace trimmed)'),
  'http-restricted-api': list('C:H=V', 'Triton\'s: REST calls of categories C (comma-separated: health, metadata,\n'
    + 'inference, shared-memory, model-config, model-repository, statistics, trace,\n'
    + 'logging) need header H with value V, else 403 (repeatable)', ';'),
  'grpc-restricted-protocol': list('C:H=V', 'the same for gRPC, with metadata \'triton-grpc-protocol-H\' (repeatable)', ';'),
  'cors-allow-origin': list('ORIGIN', 'let browser pages from ORIGIN (or * for any) call REST; other cross-origin\nrequests are refused with 403 (repeatable; default none)'),

  'tls-cert': text('FILE', 'PEM certificate (chain): HTTPS for REST and metrics, TLS for gRPC (needs --tls-key)'),
  'tls-key': text('FILE', 'PEM private key of --tls-cert'),
  'tls-client-ca': text('FILE', 'PEM CA: every listener requires a client certificate it signed (mutual TLS)'),
  'grpc-use-ssl': text('B', 'TLS for gRPC alone; these five are Triton\'s flags', { shown: 'on with --tls-cert' }),
  'grpc-use-ssl-mutual': text('B', 'gRPC mutual TLS; giving it turns gRPC TLS on, as in Triton', { shown: 'on with --tls-client-ca' }),
  'grpc-server-cert': text('FILE', 'gRPC\'s certificate', { shown: '--tls-cert' }),
  'grpc-server-key': text('FILE', 'gRPC\'s private key', { shown: '--tls-key' }),
  'grpc-root-cert': text('FILE', 'CA for gRPC client certificates, used with --grpc-use-ssl-mutual', { shown: '--tls-client-ca' }),

  'trace-otlp-endpoint': text('URL', 'turn OpenTelemetry tracing on, exporting over OTLP/HTTP to URL\n(e.g. http://localhost:4318/v1/traces)',
    { shown: 'off, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' }),
  'log-level': choice(LOG_LEVELS, 'the least severe lines written: error, warn, info or verbose', DEFAULT_LOG_LEVEL),
  'log-format': choice(LOG_FORMATS, 'text for people; json: one object per line (time, level, msg, fields)', DEFAULT_LOG_FORMAT),
  'access-log': bool('one info line per finished call: protocol, method or path, model, status,\nbytes in and out, duration (never tensor data)', false),
  'answer-poll-us': int('US', 'while one request alone waits on a model worker, the main thread polls for the\n'
    + 'answer for up to US microseconds instead of sleeping: on a VM, waking a thread\n'
    + 'whose vCPU has halted costs ~0.1 ms per hop; polling spends CPU instead (0: never)', DEFAULT_ANSWER_POLL_US, { max: 1_000_000 }),
};

export type ServeValues = FlagValues<typeof SERVE_FLAGS>;

type Name = keyof typeof SERVE_FLAGS;
const SECTIONS: Record<string, readonly Name[]> = {
  'Repository and models': ['model-repository', 'model-name', 'model-control-mode', 'load-model', 'repository-poll-secs', 'max-instances-per-model', 'strict-readiness',
    'predictor-model', 'generate-model'],
  Listeners: ['host', 'http-port', 'grpc-port', 'metrics-port', 'no-console'],
  gRPC: ['grpc-max-message', 'grpc-window', 'grpc-keepalive-time-ms', 'grpc-keepalive-timeout-ms', 'grpc-infer-response-compression-level', 'grpc-max-concurrent-streams'],
  Limits: ['http-max-body', 'max-inflight-bytes', 'request-timeout', 'stream-idle-timeout', 'shutdown-drain-secs', 'shutdown-grace-secs'],
  'Access control': ['api-key', 'api-key-file', 'http-restricted-api', 'grpc-restricted-protocol', 'cors-allow-origin'],
  TLS: ['tls-cert', 'tls-key', 'tls-client-ca', 'grpc-use-ssl', 'grpc-use-ssl-mutual', 'grpc-server-cert', 'grpc-server-key', 'grpc-root-cert'],
  'Logging and tracing': ['log-level', 'log-format', 'access-log', 'trace-otlp-endpoint'],
  Latency: ['answer-poll-us'],
};

/** `duet --help`: generated from the table, so it cannot drift from the flags. */
export function serveHelp(): string {
  return `duet — a model inference server (KServe v2 / Triton protocol)

Usage:
  duet serve --model-repository DIR [options]
  duet bench [--model NAME] [--protocol grpc|http-json|http-binary|all] [--concurrency 1,4,16,64]
             [--duration S] [--url HOST:PORT] [options]   (duet bench --help for all of them)
  duet version               the package version and Node's

Every option may also come from an environment variable (shown with it) or from a config file;
a flag given on the command line wins over the variable, which wins over the file.

  --config FILE            YAML or JSON mapping of option names (without the dashes) to values
                           (DUET_CONFIG)
  -h, --help               show this help
  -v, --version            show the version
${helpText(SERVE_FLAGS, SECTIONS)}`;
}
