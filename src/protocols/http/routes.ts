// KServe v2 REST routes -> data-plane calls. Translation only.

import type { IncomingHttpHeaders } from 'node:http';
import { invalidArg, InferenceError } from '../../core/errors.js';
import type { DataPlane } from '../../dataplane.js';
import { decodeInferRequest, encodeInferResponse, HEADER_LENGTH, parseJsonBody } from './codec.js';
import type { ParsePool } from './parse-pool.js';
import { sseFrames } from './streaming.js';
import { nowMs, type TraceRecorder } from '../../core/trace.js';
import { generateResponseJson, jsonText } from '../../core/generate.js';

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
  signal: AbortSignal;
  trace?: TraceRecorder;
  /** Decodes large infer bodies off the main thread. */
  parsers?: ParsePool;
}

const ok = (json?: unknown): HttpReply => ({ status: 200, json });
const flag = (yes: boolean): HttpReply => ({ status: yes ? 200 : 400 });

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
const REPO_PATH = /^\/v2\/repository\/models\/([^/]+)\/(load|unload)\/?$/;

export async function route(dp: DataPlane, method: string, path: string, input: RouteInput): Promise<HttpReply> {
  const get = method === 'GET' || method === 'HEAD';
  if (path === '/v2/health/live' && get) return flag(dp.live());
  if (path === '/v2/health/ready' && get) return flag(dp.ready());
  if ((path === '/v2' || path === '/v2/') && get) return ok(dp.serverMetadata());

  if ((path === '/v2/models/stats' || path === '/v2/models/stats/') && get) return ok({ model_stats: dp.statistics() });

  const m = MODEL_PATH.exec(path);
  if (m) {
    const name = decodeSegment(m[1]);
    const version = m[2] === undefined ? undefined : decodeSegment(m[2]);
    const tail = m[3];
    if (tail === undefined && get) return ok(dp.modelMetadata(name, version));
    if (tail === '/ready' && get) return flag(dp.modelReady(name, version));
    if (tail === '/config' && get) return ok(dp.modelConfig(name, version));
    if (tail === '/infer' && method === 'POST') return infer(dp, name, version, input);
    if (tail === '/generate' && method === 'POST') return generate(dp, name, version, input);
    if (tail === '/generate_stream' && method === 'POST') return generateStream(dp, name, version, input);
    if (tail === '/stats' && get) return ok({ model_stats: dp.statistics(name, version) });
    throw noRoute(method, path);
  }

  if (path === '/v2/repository/index' && method === 'POST') {
    const body = optionalJson(input.body);
    if (body.ready !== undefined && typeof body.ready !== 'boolean') throw invalidArg(`'ready' must be true or false`);
    const entries = await dp.repositoryIndex(body.ready === true);
    return ok(entries.map((e) => ({
      name: e.name,
      ...(e.version ? { version: e.version } : {}),
      state: e.state,
      reason: e.reason,
    })));
  }
  const r = REPO_PATH.exec(path);
  if (r && method === 'POST') {
    const name = decodeSegment(r[1]);
    const body = optionalJson(input.body);
    const params = body.parameters ?? {};
    if (typeof params !== 'object' || params === null) throw invalidArg(`'parameters' must be an object`);
    if (r[2] === 'load') {
      const p = params as Record<string, unknown>;
      if (p.config !== undefined && typeof p.config !== 'string') throw invalidArg(`parameter 'config' must be a JSON string of the model config`);
      await dp.loadModel(name, { config: p.config as string | undefined, files: Object.keys(p).filter((k) => k.startsWith('file:')) });
    } else {
      await dp.unloadModel(name);
    }
    return ok();
  }
  throw noRoute(method, path);
}

function noRoute(method: string, path: string): InferenceError {
  return new InferenceError('NOT_FOUND', `no route for ${method} ${path}`);
}

async function infer(dp: DataPlane, name: string, version: string | undefined, input: RouteInput): Promise<HttpReply> {
  const raw = input.headers[HEADER_LENGTH];
  let headerLength: number | undefined;
  if (raw !== undefined) {
    headerLength = Number(raw);
    if (!/^\d+$/.test(String(raw)) || !Number.isSafeInteger(headerLength)) {
      throw invalidArg(`Inference-Header-Content-Length must be a non-negative integer, got '${String(raw)}'`);
    }
  }
  const t0 = nowMs();
  const decoded = input.parsers
    ? await input.parsers.decodeInfer(input.body, headerLength, name, version, input.signal)
    : decodeInferRequest(input.body, headerLength, name, version);
  decoded.request.signal = input.signal;
  decoded.request.trace = input.trace;
  input.trace?.record('decode', t0, nowMs());
  const res = await dp.infer(decoded.request);
  const t1 = nowMs();
  const enc = encodeInferResponse(res, (n) => decoded.binaryOutputs.get(n) ?? decoded.binaryDefault);
  input.trace?.record('encode', t1, nowMs());
  if (enc.headerLength === undefined) return { status: 200, chunks: enc.chunks };
  return {
    status: 200,
    chunks: enc.chunks,
    headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: enc.headerLength },
  };
}

function generateChunks(dp: DataPlane, name: string, version: string | undefined, input: RouteInput) {
  const fields = parseJsonBody(input.body.toString('utf8')) as Record<string, unknown>;
  return dp.generate({ modelName: name, modelVersion: version, fields, signal: input.signal, trace: input.trace }).chunks;
}

async function generate(dp: DataPlane, name: string, version: string | undefined, input: RouteInput): Promise<HttpReply> {
  const all = [];
  for await (const c of generateChunks(dp, name, version, input)) all.push(c.response);
  if (all.length !== 1) {
    throw invalidArg(`model '${name}' sent ${all.length} responses; generate expects exactly one (use generate_stream)`);
  }
  return { status: 200, chunks: [Buffer.from(jsonText(generateResponseJson(all[0])))] };
}

async function generateStream(dp: DataPlane, name: string, version: string | undefined, input: RouteInput): Promise<HttpReply> {
  const it = generateChunks(dp, name, version, input)[Symbol.asyncIterator]();
  const first = await it.next();
  return {
    status: 200,
    // Triton's exact header: SSE clients that check the charset accept it.
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    events: sseFrames(first, it),
  };
}

/** A low-cardinality name for a request, for metrics: the route, never the model name. */
export function routeLabel(method: string, path: string): string {
  if (path.startsWith('/v2/health/')) return `health_${path.slice(11).replace(/\/$/, '')}`;
  if (path === '/v2' || path === '/v2/') return 'server_metadata';
  if (path.startsWith('/v2/repository/')) return path.endsWith('/index') ? 'repository_index' : path.includes('/unload') ? 'repository_unload' : 'repository_load';
  const m = MODEL_PATH.exec(path);
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
