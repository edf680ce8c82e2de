// HttpClient: the KServe v2 REST protocol with Triton's binary tensor extension, on fetch (Node 20+ and browsers).

import { InferenceError, STATUS_TABLE, type ErrorCode } from './errors.js';
import type { ModelConfig } from './model-config.js';
import { isDataType } from './datatypes.js';
import { jsonToRaw, lostInt64Precision, parseJsonLossless, rawToJsonText } from './json-tensor.js';
import { jsonText } from './generate.js';
import { sseEvents } from './sse.js';
import { fromUtf8, utf8 } from './tensor.js';
import {
  inputToRaw, makeResult, normalizeOutputs, ResultTensor,
  type InferenceClient, type InferInput, type InferOptions, type InferResult,
  type ModelMetadataResult, type RepositoryEntry, type ServerMetadataResult, type GenerateOptions, type ClientTls,
} from './types.js';

const HEADER_LENGTH = 'inference-header-content-length';

/** Flat request parameters as JSON, bigints as exact digits (the server re-parses those losslessly). */
const paramsJson = (p: Record<string, unknown>) =>
  `{${Object.entries(p).map(([k, v]) => `${JSON.stringify(k)}:${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`).join(',')}}`;

const CODE_OF_STATUS = new Map<number, ErrorCode>();
for (const [code, row] of Object.entries(STATUS_TABLE) as [ErrorCode, { http: number }][]) {
  if (!CODE_OF_STATUS.has(row.http)) CODE_OF_STATUS.set(row.http, code);
}
// The server's REST-only limit statuses, as the codes gRPC gives for the same: a body over the limit,
// a body that stalled.
CODE_OF_STATUS.set(413, 'RESOURCE_EXHAUSTED');
CODE_OF_STATUS.set(408, 'DEADLINE_EXCEEDED');

/** One raw HTTP exchange's answer: header names in lower case, the whole body. */
export class HttpResponse {
  constructor(readonly status: number, readonly headers: Record<string, string>, readonly body: Uint8Array) {}

  /** The body as UTF-8 text. */
  get text(): string {
    return fromUtf8(this.body);
  }
}

/** Request headers as Node's http types them too (a list is sent comma-joined, undefined not at all). */
export type HeaderValues = Record<string, string | number | readonly string[] | undefined>;

export interface HttpClientOptions {
  /** TLS client settings (CA, client certificate): Node only (a browser has its own); makes a URL without a scheme HTTPS. */
  tls?: ClientTls;
  /** The server's API key, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent with every request (e.g. a restricted API's header). */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

export class HttpClient implements InferenceClient {
  readonly protocol = 'http' as const;
  private readonly base: string;
  private readonly fetch: typeof fetch;
  private readonly fixedHeaders: Record<string, string>;

  /**
   * `url` like "localhost:8000", "http://localhost:8000" or "https://localhost:8443". `tls` (CA, client
   * certificate) makes a URL without a scheme HTTPS.
   */
  constructor(url: string, opts: HttpClientOptions = {}) {
    const u = new URL(url.includes('://') ? url : `${opts.tls ? 'https' : 'http'}://${url}`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`HttpClient: URL scheme must be http or https, got '${u.protocol}'`);
    if (opts.tls && u.protocol !== 'https:') throw new TypeError(`HttpClient: the tls option needs an https:// URL, got '${url}'`);
    if (opts.tls && !opts.fetch) throw new TypeError('HttpClient: the tls option needs Node (where duet-client handles it) or a fetch of your own');
    this.base = u.origin;
    this.fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    // identity: Node's fetch would ask for gzip and the server would spend CPU compressing every answer
    // (a browser decides this itself and drops the header).
    this.fixedHeaders = { 'accept-encoding': 'identity', ...lower(opts.headers), ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}) };
  }

  /** One raw HTTP exchange (exported for tests and tools). */
  async request(method: string, path: string, body?: Uint8Array | Uint8Array[], headers: HeaderValues = {}, signal?: AbortSignal): Promise<HttpResponse> {
    return responseOf(await this.send(method, path, body, headers, signal));
  }

  private send(method: string, path: string, body: Uint8Array | Uint8Array[] | undefined, headers: HeaderValues, signal?: AbortSignal): Promise<Response> {
    const h: Record<string, string> = { ...this.fixedHeaders };
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    // fetch works the length out itself.
    delete h['content-length'];
    const payload = body === undefined ? undefined : Array.isArray(body) ? concat(body) : (body as Uint8Array<ArrayBuffer>);
    return this.fetch(`${this.base}${path}`, { method, headers: h, body: payload, signal }).catch((e: unknown) => {
      // Our own abort stays an AbortError; a connection that failed is the server being unavailable, as in gRPC.
      throw signal?.aborted ? e : new InferenceError('UNAVAILABLE', networkMessage(e));
    });
  }

  private async call(method: string, path: string, json?: unknown): Promise<HttpResponse> {
    const body = json === undefined ? undefined : utf8(JSON.stringify(json));
    const res = await this.request(method, path, body, body ? { 'content-type': 'application/json' } : {});
    if (res.status >= 400) throw errorOf(res);
    return res;
  }

  private async getJson<T>(path: string): Promise<T> {
    return JSON.parse((await this.call('GET', path)).text) as T;
  }

  private async flag(path: string): Promise<boolean> {
    const res = await this.request('GET', path);
    // A refused call is an error, not "not ready" (gRPC fails the same call the same way).
    if (res.status === 401 || res.status === 403) throw errorOf(res);
    return res.status === 200;
  }

  isServerLive() {
    return this.flag('/v2/health/live');
  }

  isServerReady() {
    return this.flag('/v2/health/ready');
  }

  isModelReady(model: string, version?: string) {
    return this.flag(`${modelPath(model, version)}/ready`);
  }

  getServerMetadata() {
    return this.getJson<ServerMetadataResult>('/v2');
  }

  getModelMetadata(model: string, version?: string) {
    return this.getJson<ModelMetadataResult>(modelPath(model, version));
  }

  getModelConfig(model: string, version?: string) {
    return this.getJson<ModelConfig>(`${modelPath(model, version)}/config`);
  }

  async getModelRepositoryIndex(options: { ready?: boolean } = {}): Promise<RepositoryEntry[]> {
    const res = await this.call('POST', '/v2/repository/index', options.ready === undefined ? undefined : { ready: options.ready });
    return JSON.parse(res.text) as RepositoryEntry[];
  }

  async loadModel(model: string, options: { config?: ModelConfig | string } = {}): Promise<void> {
    const config = options.config === undefined ? undefined : typeof options.config === 'string' ? options.config : JSON.stringify(options.config);
    await this.call('POST', `/v2/repository/models/${encodeURIComponent(model)}/load`, config === undefined ? undefined : { parameters: { config } });
  }

  async unloadModel(model: string): Promise<void> {
    await this.call('POST', `/v2/repository/models/${encodeURIComponent(model)}/unload`);
  }

  async infer(model: string, inputs: InferInput[], options: InferOptions = {}): Promise<InferResult> {
    const binary = options.binary ?? true;
    const raws = inputs.map(inputToRaw);
    const jsonInputs = inputs.map((inp, i) => {
      const head = `{"name":${JSON.stringify(inp.name)},"datatype":${JSON.stringify(inp.datatype)},"shape":${JSON.stringify(inp.shape)}`;
      const params = { ...inp.parameters, ...(binary ? { binary_data_size: raws[i].byteLength } : {}) };
      const p = Object.keys(params).length ? `,"parameters":${paramsJson(params)}` : '';
      return binary ? `${head}${p}}` : `${head}${p},"data":${rawToJsonText(inp.datatype, raws[i])}}`;
    });
    const outputs = normalizeOutputs(options.outputs)?.map((o) => {
      const parameters: Record<string, unknown> = { binary_data: o.binary ?? binary };
      if (o.classCount !== undefined) parameters.classification = o.classCount;
      return { name: o.name, parameters };
    });
    const parameters = { ...options.parameters, ...(binary && !outputs ? { binary_data_output: true } : {}) };
    let json = `{"inputs":[${jsonInputs.join(',')}]`;
    if (options.id !== undefined) json += `,"id":${JSON.stringify(options.id)}`;
    if (outputs) json += `,"outputs":${JSON.stringify(outputs)}`;
    if (Object.keys(parameters).length) json += `,"parameters":${paramsJson(parameters)}`;
    json += '}';
    const head = utf8(json);
    const headers: Record<string, string | number> = { 'content-type': binary ? 'application/octet-stream' : 'application/json' };
    if (binary) headers[HEADER_LENGTH] = head.byteLength;
    const res = await this.request('POST', `${modelPath(model, options.modelVersion)}/infer`, binary ? [head, ...raws] : head, headers, options.signal);
    if (res.status >= 400) throw errorOf(res);
    return decodeInferResponse(res);
  }

  async generate(model: string, body: Record<string, unknown>, options: GenerateOptions = {}): Promise<Record<string, unknown>> {
    const res = await this.request('POST', `${modelPath(model, options.modelVersion)}/generate`, utf8(jsonText(body)), { 'content-type': 'application/json' }, options.signal);
    if (res.status >= 400) throw errorOf(res);
    return parseJsonExact(res.text);
  }

  async *generateStream(model: string, body: Record<string, unknown>, options: GenerateOptions = {}): AsyncIterable<Record<string, unknown>> {
    const res = await this.send('POST', `${modelPath(model, options.modelVersion)}/generate_stream`, utf8(jsonText(body)),
      { 'content-type': 'application/json', accept: 'text/event-stream' }, options.signal);
    if (res.status >= 400) throw errorOf(await responseOf(res));
    for await (const { event, data } of sseEvents(res.body!)) {
      const obj = parseJsonExact(data);
      if (event === 'error') throw new InferenceError((obj.code as ErrorCode | undefined) ?? 'INTERNAL', String(obj.error));
      yield obj;
    }
  }

  /** Nothing to release: fetch owns its connections. */
  async close(): Promise<void> {}
}

/** A failed fetch's message with its cause (fetch's own message is a bare 'fetch failed'). */
export function networkMessage(e: unknown): string {
  const err = e as Error & { cause?: { message?: string } };
  return err.cause?.message ? `${err.message}: ${err.cause.message}` : String(err?.message ?? e);
}

async function responseOf(res: Response): Promise<HttpResponse> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  return new HttpResponse(res.status, headers, new Uint8Array(await res.arrayBuffer()));
}

function lower(h: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

function parseJsonExact(text: string): Record<string, unknown> {
  const obj = JSON.parse(text) as Record<string, unknown>;
  return /\d{16}/.test(text) ? (parseJsonLossless(text) as Record<string, unknown>) : obj;
}

function modelPath(model: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
}

function errorOf(res: HttpResponse): InferenceError {
  let message = res.text;
  try {
    const j = JSON.parse(message) as { error?: string };
    if (typeof j.error === 'string') message = j.error;
  } catch {
    // not JSON: keep the text
  }
  return new InferenceError(CODE_OF_STATUS.get(res.status) ?? 'INTERNAL', message || `HTTP ${res.status}`);
}

interface JsonOutput { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: Record<string, unknown> }

/** An infer response's body (binary extension or JSON) as a result; `headers` as fetch or node:http give them. */
export function decodeInferResponse(res: { headers: Record<string, string | string[] | undefined>; body: Uint8Array }): InferResult {
  const hl = res.headers[HEADER_LENGTH];
  const headerLength = hl === undefined ? res.body.byteLength : Number(hl);
  const text = fromUtf8(res.body.subarray(0, headerLength));
  let obj = JSON.parse(text) as { model_name: string; model_version: string; id?: string; parameters?: Record<string, never>; outputs?: JsonOutput[] };
  if (lostInt64Precision(obj.outputs)) obj = parseJsonLossless(text) as typeof obj;
  let off = headerLength;
  const outputs = (obj.outputs ?? []).map((o) => {
    if (!isDataType(o.datatype)) throw new InferenceError('INTERNAL', `response output '${o.name}' has unknown datatype '${o.datatype}'`);
    const size = o.parameters?.binary_data_size;
    let data: Uint8Array;
    if (typeof size === 'number') {
      data = res.body.subarray(off, off + size);
      off += size;
    } else {
      data = jsonToRaw(o.datatype, o.data ?? [], `response output '${o.name}'`);
    }
    return new ResultTensor(o.name, o.datatype, o.shape.map(Number), data);
  });
  return makeResult({ modelName: obj.model_name, modelVersion: obj.model_version, id: obj.id, parameters: obj.parameters, outputs });
}
