// KServe v2 REST routes -> the methods (src/api/). Translation only.

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

export interface HttpReply {
  status: number;
  json?: unknown;
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

const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/config|\/infer|\/stats|\/generate|\/generate_stream)?\/?$/;
/** A path's match against the model routes (null: not one), made once per request. */
export type ModelPathMatch = RegExpExecArray | null;
export const matchModelPath = (path: string): ModelPathMatch => (path.startsWith('/v2/models/') ? MODEL_PATH.exec(path) : null);
const REPO_PATH = /^\/v2\/repository\/models\/([^/]+)\/(load|unload)\/?$/;

/** REST path and JSON <-> the methods' neutral requests and responses; every call runs through the wrapper. */
export async function route({ methods: m, wrapper: w }: Api, ctx: CallContext, method: string, path: string, input: RouteInput,
  mp: ModelPathMatch = matchModelPath(path)): Promise<HttpReply> {
  const call = <Q, R>(decode: () => Q | Promise<Q>, fn: (c: CallContext, q: Q) => R | Promise<R>, encode: (r: R) => HttpReply, model?: string) =>
    w.unary(ctx, decode, fn, encode, model);
  const get = method === 'GET' || method === 'HEAD';
  if (path === '/v2/health/live' && get) return call(none, () => m.ServerLive(), (r) => flag(r.live));
  if (path === '/v2/health/ready' && get) return call(none, () => m.ServerReady(), (r) => flag(r.ready));
  if ((path === '/v2' || path === '/v2/') && get) return call(none, () => m.ServerMetadata(), ok);

  if ((path === '/v2/models/stats' || path === '/v2/models/stats/') && get) {
    return call(none, (c) => m.ModelStatistics(c, {}), (s) => ok({ model_stats: s }));
  }

  if (mp) {
    const ref = () => ({ name: decodeSegment(mp[1]), version: mp[2] === undefined ? undefined : decodeSegment(mp[2]) });
    const name = mp[1];
    const tail = mp[3];
    if (tail === undefined && get) return call(ref, (c, r) => m.ModelMetadata(c, r), ok);
    if (tail === '/ready' && get) return call(ref, (c, r) => m.ModelReady(c, r), (r) => flag(r.ready));
    if (tail === '/config' && get) return call(ref, (c, r) => m.ModelConfig(c, r), ok);
    if (tail === '/stats' && get) return call(ref, (c, r) => m.ModelStatistics(c, r), (s) => ok({ model_stats: s }));
    if (tail === '/infer' && method === 'POST') {
      return call(() => decodeInfer(ref(), input, ctx), async (c, d) => ({ d, res: await m.ModelInfer(c, d.request) }), encodeInfer, name);
    }
    if (tail === '/generate' && method === 'POST') {
      return call(() => generateCall(ref(), input), (c, g) => m.GenerateOne(c, g), (x) => ({ status: 200, chunks: [Buffer.from(jsonText(generateResponseJson(x.response)))] }), name);
    }
    if (tail === '/generate_stream' && method === 'POST') {
      const events = w.stream(ctx, () => generateCall(ref(), input), (c, g) => m.Generate(c, g), (x) => `data: ${jsonText(generateResponseJson(x.response))}\n\n`, name);
      const it = events[Symbol.asyncIterator]();
      // The first response is awaited here, so an error before streaming starts is a JSON error.
      const first = await it.next();
      return {
        status: 200,
        // Triton's exact header: SSE clients that check the charset accept it.
        headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
        events: sseFrames(first, it),
      };
    }
    throw noRoute(method, path);
  }

  if (path === '/v2/repository/index' && method === 'POST') {
    const decode = () => {
      const body = optionalJson(input.body);
      if (body.ready !== undefined && typeof body.ready !== 'boolean') throw invalidArg(`'ready' must be true or false`);
      return { ready: body.ready === true };
    };
    return call(decode, (c, r) => m.RepositoryIndex(c, r), (entries) => ok(entries.map((e) => ({
      name: e.name,
      ...(e.version ? { version: e.version } : {}),
      state: e.state,
      reason: e.reason,
    }))));
  }
  const r = REPO_PATH.exec(path);
  if (r && method === 'POST') {
    const decode = () => {
      const name = decodeSegment(r[1]);
      const params = optionalJson(input.body).parameters ?? {};
      if (typeof params !== 'object' || params === null) throw invalidArg(`'parameters' must be an object`);
      const p = params as Record<string, unknown>;
      if (r[2] === 'load' && p.config !== undefined && typeof p.config !== 'string') throw invalidArg(`parameter 'config' must be a JSON string of the model config`);
      return { name, config: p.config as string | undefined, files: Object.keys(p).filter((k) => k.startsWith('file:')) };
    };
    if (r[2] === 'load') return call(decode, (c, q) => m.RepositoryModelLoad(c, q), () => ok());
    return call(decode, (c, q) => m.RepositoryModelUnload(c, q), () => ok());
  }
  throw noRoute(method, path);
}

function noRoute(method: string, path: string): InferenceError {
  return new InferenceError('NOT_FOUND', `no route for ${method} ${path}`);
}

function decodeInfer(ref: { name: string; version?: string }, input: RouteInput, ctx: CallContext): DecodedInfer | Promise<DecodedInfer> {
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

function encodeInfer({ d, res }: { d: DecodedInfer; res: InferResponse }): HttpReply {
  const enc = encodeInferResponse(res, (n) => d.binaryOutputs.get(n) ?? d.binaryDefault);
  if (enc.headerLength === undefined) return { status: 200, chunks: enc.chunks };
  return {
    status: 200,
    chunks: enc.chunks,
    headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: enc.headerLength },
  };
}

/** Triton's generate JSON: the body's keys, read against the model's inputs by the data plane. */
function generateCall(ref: { name: string; version?: string }, input: RouteInput): GenerateCall {
  return { modelName: ref.name, modelVersion: ref.version, fields: parseJsonBody(input.body.toString('utf8')) as Record<string, unknown> };
}

/** A low-cardinality name for a request, for metrics: the route, never the model name. */
export function routeLabel(method: string, path: string, m: ModelPathMatch = matchModelPath(path)): string {
  if (path.startsWith('/v2/health/')) return `health_${path.slice(11).replace(/\/$/, '')}`;
  if (path === '/v2' || path === '/v2/') return 'server_metadata';
  if (path.startsWith('/v2/repository/')) return path.endsWith('/index') ? 'repository_index' : path.includes('/unload') ? 'repository_unload' : 'repository_load';
  if (m) return m[3] ? m[3].slice(1) : 'model_metadata';
  if (path.startsWith('/v2/models/stats')) return 'stats';
  return method === 'GET' || method === 'POST' ? 'unknown_route' : 'other';
}

const MODEL_OPERATION: Record<string, string> = {
  '': 'ModelMetadata', '/ready': 'ModelReady', '/config': 'ModelConfig', '/infer': 'ModelInfer',
  '/generate': 'Generate', '/generate_stream': 'Generate', '/stats': 'ModelStatistics',
};

/**
 * The gRPC method a REST route matches, for access checks (src/security/auth.ts): health live/ready only
 * for GET/HEAD, so nothing else slips through their exemption. Triton's trace, logging and shared-memory
 * routes are named although Duet answers them 404, so their restrictions read the same on both protocols.
 */
/** The model a REST path names (percent-decoding it), if any: for the access log. */
export function modelInPath(path: string, m: ModelPathMatch = matchModelPath(path)): string | undefined {
  const seg = m?.[1] ?? REPO_PATH.exec(path)?.[1];
  if (seg === undefined) return undefined;
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

export function operationOf(method: string, path: string): string | undefined {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const get = method === 'GET' || method === 'HEAD';
  if (p === '/v2/health/live') return get ? 'ServerLive' : undefined;
  if (p === '/v2/health/ready') return get ? 'ServerReady' : undefined;
  if (p === '/v2') return 'ServerMetadata';
  if (p === '/v2/models/stats') return 'ModelStatistics';
  if (p === '/v2/repository/index') return 'RepositoryIndex';
  const r = REPO_PATH.exec(path);
  if (r) return r[2] === 'load' ? 'RepositoryModelLoad' : 'RepositoryModelUnload';
  if (p.startsWith('/v2/systemsharedmemory')) return 'SystemSharedMemoryStatus';
  if (p.startsWith('/v2/cudasharedmemory')) return 'CudaSharedMemoryStatus';
  if (p === '/v2/logging') return 'LogSettings';
  if (p === '/v2/trace/setting' || /^\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/trace\/setting$/.test(p)) return 'TraceSetting';
  const m = MODEL_PATH.exec(path);
  if (m) return MODEL_OPERATION[m[3] ?? ''];
  return undefined;
}
