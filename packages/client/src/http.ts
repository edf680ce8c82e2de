// HttpClient: the KServe v2 REST protocol with Triton's binary tensor extension, over node:http keep-alive.

import http from 'node:http';
import https from 'node:https';
import { InferenceError, STATUS_TABLE, type ErrorCode } from './errors.js';
import type { ModelConfig } from './model-config.js';
import { isDataType } from './datatypes.js';
import { jsonToRaw, lostInt64Precision, parseJsonLossless, rawToJsonText } from './json-tensor.js';
import { jsonText } from './generate.js';
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

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpClientOptions {
  maxSockets?: number;
  /** TLS client settings (CA, client certificate); makes a URL without a scheme HTTPS. */
  tls?: ClientTls;
  /** The server's API key, sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent with every request (e.g. a restricted API's header). */
  headers?: Record<string, string>;
}

export class HttpClient implements InferenceClient {
  readonly protocol = 'http' as const;
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  /** http.request or https.request, by the URL's scheme. */
  private readonly send: typeof http.request;
  private readonly fixedHeaders: http.OutgoingHttpHeaders;

  /**
   * `url` like "localhost:8000", "http://localhost:8000" or "https://localhost:8443". `tls` (CA, client
   * certificate) makes a URL without a scheme HTTPS.
   */
  constructor(url: string, opts: HttpClientOptions = {}) {
    const u = new URL(url.includes('://') ? url : `${opts.tls ? 'https' : 'http'}://${url}`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`HttpClient: URL scheme must be http or https, got '${u.protocol}'`);
    const secure = u.protocol === 'https:';
    if (opts.tls && !secure) throw new TypeError(`HttpClient: the tls option needs an https:// URL, got '${url}'`);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || (secure ? 443 : 80));
    const pool = { keepAlive: true, maxSockets: opts.maxSockets ?? 64 };
    this.agent = secure ? new https.Agent({ ...pool, ...pems(opts.tls) }) : new http.Agent(pool);
    this.send = secure ? https.request : http.request;
    this.fixedHeaders = { ...opts.headers, ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}) };
  }

  /** One raw HTTP exchange (exported for tests and tools). */
  request(method: string, path: string, body?: Uint8Array | Uint8Array[], headers: http.OutgoingHttpHeaders = {}, signal?: AbortSignal): Promise<HttpResponse> {
    const chunks = body === undefined ? [] : Array.isArray(body) ? body : [body];
    const length = chunks.reduce((n, c) => n + c.byteLength, 0);
    return new Promise((resolve, reject) => {
      const req = this.send(
        { host: this.host, port: this.port, method, path, agent: this.agent, signal, headers: { ...this.fixedHeaders, ...(body !== undefined ? { 'content-length': length } : {}), ...headers } },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  private async call(method: string, path: string, json?: unknown): Promise<HttpResponse> {
    const body = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const res = await this.request(method, path, body, body ? { 'content-type': 'application/json' } : {});
    if (res.status >= 400) throw errorOf(res);
    return res;
  }

  private async getJson<T>(path: string): Promise<T> {
    return JSON.parse((await this.call('GET', path)).body.toString('utf8')) as T;
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
    return JSON.parse(res.body.toString('utf8')) as RepositoryEntry[];
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
    const head = Buffer.from(json);
    const headers: http.OutgoingHttpHeaders = { 'content-type': binary ? 'application/octet-stream' : 'application/json' };
    if (binary) headers[HEADER_LENGTH] = head.byteLength;
    const res = await this.request('POST', `${modelPath(model, options.modelVersion)}/infer`, binary ? [head, ...raws] : head, headers, options.signal);
    if (res.status >= 400) throw errorOf(res);
    return decodeInferResponse(res);
  }

  async generate(model: string, body: Record<string, unknown>, options: GenerateOptions = {}): Promise<Record<string, unknown>> {
    const res = await this.request('POST', `${modelPath(model, options.modelVersion)}/generate`, Buffer.from(jsonText(body)), { 'content-type': 'application/json' }, options.signal);
    if (res.status >= 400) throw errorOf(res);
    return parseJsonExact(res.body.toString('utf8'));
  }

  async *generateStream(model: string, body: Record<string, unknown>, options: GenerateOptions = {}): AsyncIterable<Record<string, unknown>> {
    const payload = Buffer.from(jsonText(body));
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = this.send({
        host: this.host, port: this.port, method: 'POST', agent: this.agent, signal: options.signal,
        path: `${modelPath(model, options.modelVersion)}/generate_stream`,
        headers: { ...this.fixedHeaders, 'content-type': 'application/json', 'content-length': payload.byteLength, accept: 'text/event-stream' },
      }, resolve);
      req.on('error', reject);
      req.end(payload);
    });
    if ((res.statusCode ?? 0) >= 400) {
      const parts: Buffer[] = [];
      for await (const c of res) parts.push(c as Buffer);
      throw errorOf({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
    }
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString('utf8');
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (!data) continue;
          const obj = parseJsonExact(data);
          if (event === 'error') {
            throw new InferenceError((obj.code as ErrorCode | undefined) ?? 'INTERNAL', String(obj.error));
          }
          yield obj;
        }
      }
    } finally {
      // A stream read to its end leaves the keep-alive socket for the next request; one abandoned midway is closed.
      if (!res.complete) res.destroy();
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** TLS settings as node:https takes them. */
function pems(tls: ClientTls = {}) {
  const b = (v: string | Uint8Array | undefined) => (v === undefined || typeof v === 'string' ? v : Buffer.from(v));
  return { ca: b(tls.ca), cert: b(tls.cert), key: b(tls.key) };
}

function parseJsonExact(text: string): Record<string, unknown> {
  const obj = JSON.parse(text) as Record<string, unknown>;
  return /\d{16}/.test(text) ? (parseJsonLossless(text) as Record<string, unknown>) : obj;
}

function modelPath(model: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
}

function errorOf(res: HttpResponse): InferenceError {
  let message = res.body.toString('utf8');
  try {
    const j = JSON.parse(message) as { error?: string };
    if (typeof j.error === 'string') message = j.error;
  } catch {
    // not JSON: keep the text
  }
  return new InferenceError(CODE_OF_STATUS.get(res.status) ?? 'INTERNAL', message || `HTTP ${res.status}`);
}

interface JsonOutput { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: Record<string, unknown> }

export function decodeInferResponse(res: HttpResponse): InferResult {
  const hl = res.headers[HEADER_LENGTH];
  const headerLength = hl === undefined ? res.body.byteLength : Number(hl);
  const text = res.body.subarray(0, headerLength).toString('utf8');
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
