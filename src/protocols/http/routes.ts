// KServe v2 REST routes -> the methods (src/api/), declared for the route table (route-table.ts). Translation only.

import type { IncomingHttpHeaders } from 'node:http';
import { invalidArg, InferenceError } from '../../core/errors.js';
import type { InferResponse } from '../../core/infer.js';
import { decodeInferRequest, encodeInferResponse, HEADER_LENGTH, parseJsonBody, type DecodedInfer } from './codec.js';
import type { ParsePool } from './parse-pool.js';
import { sseFrames } from './streaming.js';
import { generateResponseJson, jsonText } from '../../core/generate.js';
import type { Api } from '../../api/index.js';
import type { CallContext } from '../../api/context.js';
import type { GenerateCall } from '../../api/methods.js';
import type { HttpMethod, RestRoute, RouteHandler } from './route-table.js';

export interface HttpReply {
  status: number;
  json?: unknown;
  /** UTF-8 text: the body, or its start when `chunks` follow. */
  text?: string;
  chunks?: Uint8Array[];
  /** Written as they come, with backpressure (server-sent events). */
  events?: AsyncIterable<string>;
  headers?: Record<string, string | number>;
}

export interface RouteInput {
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** Decodes large infer bodies off the main thread. */
  parsers?: ParsePool;
}

const ok = (json?: unknown): HttpReply => ({ status: 200, json });
const flag = (yes: boolean): HttpReply => ({ status: yes ? 200 : 400 });
const none = () => ({});

function decodeSegment(s: string): string {
  // Only %XX sequences change (or fail): a segment without one is itself.
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalidArg(`malformed percent-encoding in URL segment '${s}'`);
  }
}

function optionalJson(body: Buffer): Record<string, unknown> {
  if (body.byteLength === 0) return {};
  const v = parseJsonBody(body.toString('utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidArg('request body must be a JSON object');
  return v as Record<string, unknown>;
}

type Ref = { name: string; version?: string };
/** A model route's `{model_name}` and optional `{model_version}` params, percent-decoded (400 when malformed). */
const refOf = (p: readonly string[]): Ref => ({ name: decodeSegment(p[0]), version: p[1] === undefined ? undefined : decodeSegment(p[1]) });

type Methods = Api['methods'];
/** A call with no request fields: decode, the method, encode, through the wrapper. */
const plain = <R>(fn: (m: Methods, c: CallContext) => R | Promise<R>, encode: (r: R) => HttpReply): RouteHandler =>
  ({ methods: m, wrapper: w }, ctx) => w.unary(ctx, none, (c) => fn(m, c), encode);
/** A call on the model the path names. */
const onModel = <R>(fn: (m: Methods, c: CallContext, r: Ref) => R | Promise<R>, encode: (r: R) => HttpReply): RouteHandler =>
  ({ methods: m, wrapper: w }, ctx, p) => w.unary(ctx, () => refOf(p), (c, r) => fn(m, c, r), encode);

const statsReply = (s: unknown) => ok({ model_stats: s });

const infer: RouteHandler = ({ methods: m, wrapper: w }, ctx, p, input) =>
  w.unary(ctx, () => decodeInfer(refOf(p), input, ctx), (c, d) => m.ModelInfer(c, d.request), encodeInfer, p[0]);

const generate: RouteHandler = ({ methods: m, wrapper: w }, ctx, p, input) =>
  w.unary(ctx, () => generateCall(refOf(p), input), (c, g) => m.GenerateOne(c, g),
    (x) => ({ status: 200, text: jsonText(generateResponseJson(x.response)) }), p[0]);

const generateStream: RouteHandler = async ({ methods: m, wrapper: w }, ctx, p, input) => {
  const events = w.stream(ctx, () => generateCall(refOf(p), input), (c, g) => m.Generate(c, g), (x) => `data: ${jsonText(generateResponseJson(x.response))}\n\n`, p[0]);
  const it = events[Symbol.asyncIterator]();
  // The first response is awaited here, so an error before streaming starts is a JSON error.
  const first = await it.next();
  return {
    status: 200,
    // Triton's exact header: SSE clients that check the charset accept it.
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    events: sseFrames(first, it),
  };
};

const repositoryIndex: RouteHandler = ({ methods: m, wrapper: w }, ctx, _p, input) => {
  const decode = () => {
    const body = optionalJson(input.body);
    if (body.ready !== undefined && typeof body.ready !== 'boolean') throw invalidArg(`'ready' must be true or false`);
    return { ready: body.ready === true };
  };
  return w.unary(ctx, decode, (c, r) => m.RepositoryIndex(c, r), (entries) => ok(entries.map((e) => ({
    name: e.name,
    ...(e.version ? { version: e.version } : {}),
    state: e.state,
    reason: e.reason,
  }))));
};

function repositoryRequest(p: readonly string[], input: RouteInput, load: boolean) {
  const name = decodeSegment(p[0]);
  const params = optionalJson(input.body).parameters ?? {};
  if (typeof params !== 'object' || params === null) throw invalidArg(`'parameters' must be an object`);
  const q = params as Record<string, unknown>;
  if (load && q.config !== undefined && typeof q.config !== 'string') throw invalidArg(`parameter 'config' must be a JSON string of the model config`);
  return { name, config: q.config as string | undefined, files: Object.keys(q).filter((k) => k.startsWith('file:')) };
}

/**
 * The KServe v2 routes (with Triton's statistics, repository and generate extensions). Every model
 * route is also served under `/versions/{model_version}`.
 */
export function kserveRoutes(): RestRoute[] {
  const routes: RestRoute[] = [
    { method: 'GET', path: '/v2/health/live', id: 'serverLive', operation: 'ServerLive', label: 'health_live', tag: 'health',
      handle: plain((m) => m.ServerLive(), (r) => flag(r.live)) },
    { method: 'GET', path: '/v2/health/ready', id: 'serverReady', operation: 'ServerReady', label: 'health_ready', tag: 'health',
      handle: plain((m) => m.ServerReady(), (r) => flag(r.ready)) },
    { method: 'GET', path: '/v2', id: 'serverMetadata', operation: 'ServerMetadata', label: 'server_metadata', tag: 'metadata',
      handle: plain((m) => m.ServerMetadata(), ok) },
    { method: 'GET', path: '/v2/models/stats', id: 'allModelStatistics', operation: 'ModelStatistics', label: 'stats', tag: 'statistics',
      handle: plain((m, c) => m.ModelStatistics(c, {}), statsReply) },
  ];
  const model = (method: HttpMethod, tail: string, id: string, operation: string, label: string, tag: string, handle: RouteHandler) => {
    for (const versioned of [false, true]) {
      routes.push({
        method, tag, operation, label, handle,
        path: `/v2/models/{model_name}${versioned ? '/versions/{model_version}' : ''}${tail}`,
        id: versioned ? id.replace(/^model/, 'modelVersion') : id,
      });
    }
  };
  model('GET', '', 'modelMetadata', 'ModelMetadata', 'model_metadata', 'metadata', onModel((m, c, r) => m.ModelMetadata(c, r), ok));
  model('GET', '/ready', 'modelReady', 'ModelReady', 'ready', 'health', onModel((m, c, r) => m.ModelReady(c, r), (r) => flag(r.ready)));
  model('GET', '/config', 'modelConfig', 'ModelConfig', 'config', 'metadata', onModel((m, c, r) => m.ModelConfig(c, r), ok));
  model('GET', '/stats', 'modelStatistics', 'ModelStatistics', 'stats', 'statistics', onModel((m, c, r) => m.ModelStatistics(c, r), statsReply));
  model('POST', '/infer', 'modelInfer', 'ModelInfer', 'infer', 'inference', infer);
  model('POST', '/generate', 'modelGenerate', 'Generate', 'generate', 'generate', generate);
  model('POST', '/generate_stream', 'modelGenerateStream', 'Generate', 'generate_stream', 'generate', generateStream);
  routes.push(
    { method: 'POST', path: '/v2/repository/index', id: 'repositoryIndex', operation: 'RepositoryIndex', label: 'repository_index', tag: 'repository', handle: repositoryIndex },
    { method: 'POST', path: '/v2/repository/models/{model_name}/load', id: 'repositoryModelLoad', operation: 'RepositoryModelLoad', label: 'repository_load', tag: 'repository',
      handle: ({ methods: m, wrapper: w }, ctx, p, input) => w.unary(ctx, () => repositoryRequest(p, input, true), (c, q) => m.RepositoryModelLoad(c, q), () => ok()) },
    { method: 'POST', path: '/v2/repository/models/{model_name}/unload', id: 'repositoryModelUnload', operation: 'RepositoryModelUnload', label: 'repository_unload', tag: 'repository',
      handle: ({ methods: m, wrapper: w }, ctx, p, input) => w.unary(ctx, () => repositoryRequest(p, input, false), (c, q) => m.RepositoryModelUnload(c, q), () => ok()) },
  );
  return routes;
}

/** What a request that no route takes is answered: 404 naming the method and path. */
export function noRoute(method: string, path: string): InferenceError {
  return new InferenceError('NOT_FOUND', `no route for ${method} ${path}`);
}

function decodeInfer(ref: Ref, input: RouteInput, ctx: CallContext): DecodedInfer | Promise<DecodedInfer> {
  const raw = input.headers[HEADER_LENGTH];
  let headerLength: number | undefined;
  if (raw !== undefined) {
    headerLength = Number(raw);
    if (!/^\d+$/.test(String(raw)) || !Number.isSafeInteger(headerLength)) {
      throw invalidArg(`Inference-Header-Content-Length must be a non-negative integer, got '${String(raw)}'`);
    }
  }
  // Small bodies are decoded here and now; only large ones go to a parser thread (and wait on the signal).
  return input.parsers?.offloads(headerLength ?? input.body.byteLength)
    ? input.parsers.decodeInfer(input.body, headerLength, ref.name, ref.version, ctx.signal)
    : decodeInferRequest(input.body, headerLength, ref.name, ref.version);
}

function encodeInfer(res: InferResponse, d: DecodedInfer): HttpReply {
  const enc = encodeInferResponse(res, (n) => d.binaryOutputs.get(n) ?? d.binaryDefault);
  if (enc.headerLength === undefined) return { status: 200, text: enc.text };
  return {
    status: 200,
    chunks: enc.chunks,
    headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: enc.headerLength },
  };
}

/** Triton's generate JSON: the body's keys, read against the model's inputs by the data plane. */
function generateCall(ref: Ref, input: RouteInput): GenerateCall {
  return { modelName: ref.name, modelVersion: ref.version, fields: parseJsonBody(input.body.toString('utf8')) as Record<string, unknown> };
}

/** A request's metrics label when no route takes it. */
export const unroutedLabel = (method: string) => (method === 'GET' || method === 'POST' ? 'unknown_route' : 'other');

const TRACE_SETTING = /^\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/trace\/setting$/;

/**
 * Triton's trace, logging and shared-memory routes, which Duet answers 404, named for access checks
 * (src/security/auth.ts) so their restrictions read the same on both protocols.
 */
export function unservedOperation(path: string): string | undefined {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (p.startsWith('/v2/systemsharedmemory')) return 'SystemSharedMemoryStatus';
  if (p.startsWith('/v2/cudasharedmemory')) return 'CudaSharedMemoryStatus';
  if (p === '/v2/logging') return 'LogSettings';
  if (p === '/v2/trace/setting' || TRACE_SETTING.test(p)) return 'TraceSetting';
  return undefined;
}
