// The page's connection to the server it came from: the client package's REST and gRPC-Web clients with
// the API key (when one was given), raw JSON reads for what the SDK has no method for, and clients that
// count the bytes each call puts on the wire.

import { HttpClient } from '../../packages/client/src/http.js';
import { GrpcWebClient } from '../../packages/client/src/grpc-web.js';
import { InferenceError, STATUS_TABLE, type ErrorCode } from '../../packages/client/src/errors.js';
import type { ModelConfig } from '../../packages/client/src/model-config.js';
import type { ModelMetadataResult } from '../../packages/client/src/types.js';

export { InferenceError };

/** What GET /console/settings answers. */
export interface Settings {
  model_control_mode: string;
  generate_model: string;
}

/** One model version's statistics as GET /v2/models/stats gives them. */
export interface ModelStats {
  name: string;
  version: string;
  inference_count: number;
  execution_count: number;
  last_inference: number;
  inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output', { count: number; ns: number }>;
}

/** Body bytes of one call, both ways, as they crossed the network. */
export interface Wire {
  sent: number;
  received: number;
}

export interface ModelInfo {
  meta: ModelMetadataResult;
  config: ModelConfig;
}

const CODE_OF_STATUS = new Map<number, ErrorCode>();
for (const [code, row] of Object.entries(STATUS_TABLE) as [ErrorCode, { http: number }][]) {
  if (!CODE_OF_STATUS.has(row.http)) CODE_OF_STATUS.set(row.http, code);
}

const encoder = new TextEncoder();

function bodySize(body: BodyInit | null | undefined): number {
  if (body == null) return 0;
  if (typeof body === 'string') return encoder.encode(body).byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof Blob) return body.size;
  return 0;
}

/**
 * A fetch that adds each exchange's body bytes to `wire`: what was sent, and what arrived: the
 * Content-Length of a compressed answer (the browser hands over the inflated bytes), else the bytes as read.
 */
function countingFetch(wire: Wire): typeof fetch {
  return async (input, init) => {
    wire.sent += bodySize(init?.body);
    const res = await fetch(input, init);
    const length = res.headers.get('content-length');
    if (res.headers.get('content-encoding') && length !== null) {
      wire.received += Number(length);
      return res;
    }
    if (!res.body) return res;
    const count = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        wire.received += chunk.byteLength;
        out.enqueue(chunk);
      },
    });
    return new Response(res.body.pipeThrough(count), { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

export type Protocol = 'json' | 'binary' | 'grpc-web';

export class Connection {
  readonly base = location.origin;
  readonly http: HttpClient;
  readonly grpcWeb: GrpcWebClient;
  private readonly infos = new Map<string, Promise<ModelInfo>>();

  constructor(readonly token?: string) {
    this.http = new HttpClient(this.base, { token });
    this.grpcWeb = new GrpcWebClient(this.base, { token });
  }

  /** Fresh clients whose calls add their bytes to the returned counter. */
  measured(): { http: HttpClient; grpcWeb: GrpcWebClient; wire: Wire } {
    const wire = { sent: 0, received: 0 };
    const f = countingFetch(wire);
    return { http: new HttpClient(this.base, { token: this.token, fetch: f }), grpcWeb: new GrpcWebClient(this.base, { token: this.token, fetch: f }), wire };
  }

  /** A JSON GET; a non-2xx answer becomes the InferenceError its status means. */
  async getJson<T>(path: string): Promise<T> {
    const res = await this.http.request('GET', path);
    if (res.status >= 400) {
      let message = res.text;
      try {
        message = (JSON.parse(message) as { error?: string }).error ?? message;
      } catch {
        // not JSON: the text as it is
      }
      throw new InferenceError(CODE_OF_STATUS.get(res.status) ?? 'INTERNAL', message || `HTTP ${res.status}`);
    }
    return JSON.parse(res.text) as T;
  }

  settings(): Promise<Settings> {
    return this.getJson<Settings>('/console/settings');
  }

  async stats(): Promise<ModelStats[]> {
    return (await this.getJson<{ model_stats: ModelStats[] }>('/v2/models/stats')).model_stats;
  }

  /** A ready model version's metadata and config, asked once per `key` (which changes when its state does). */
  info(name: string, key: string): Promise<ModelInfo> {
    const k = `${name}\0${key}`;
    let p = this.infos.get(k);
    if (!p) {
      p = Promise.all([this.http.getModelMetadata(name), this.http.getModelConfig(name)]).then(([meta, config]) => ({ meta, config }));
      p.catch(() => this.infos.delete(k));
      this.infos.set(k, p);
    }
    return p;
  }
}

/** The text tensors a model generates with, when it does (the data plane's convention: config parameters, else Triton's names). */
export function textTensors(config: ModelConfig): { input: string; output: string } | undefined {
  const params = config.parameters ?? {};
  const input = params.generate_text_input?.string_value || 'text_input';
  const output = params.generate_text_output?.string_value || 'text_output';
  const hasIn = config.input?.some((i) => i.name === input && i.data_type === 'TYPE_STRING');
  const hasOut = config.output?.some((o) => o.name === output && o.data_type === 'TYPE_STRING');
  return hasIn && hasOut ? { input, output } : undefined;
}

export const isDecoupled = (config: ModelConfig) => config.model_transaction_policy?.decoupled === true;

/** An error as one line for the page. */
export function describeError(e: unknown): string {
  if (e instanceof InferenceError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export const needsKey = (e: unknown) => e instanceof InferenceError && e.code === 'UNAUTHENTICATED';
