// Every method, written once against a CallContext and protocol-neutral requests and responses.
// Protocol adapters decode their wire into these requests and encode these responses; the wrapper
// (wrapper.ts) runs each call. Model conventions stay in the data plane.

import { InferenceError, invalidArg } from '../core/errors.js';
import type { InferRequest, InferResponse } from '../core/infer.js';
import type { ModelConfig } from '../core/model-config.js';
import type { DataPlane, GenerateChunk, GenerateRequest, ModelMetadata, ServerMetadata } from '../dataplane.js';
import type { IndexEntry } from '../model-manager.js';
import { scopeOf, type CallContext } from './context.js';

export interface ModelRef {
  name: string;
  /** Absent or '': the model's latest ready version. */
  version?: string;
}

export interface StatisticsRequest {
  /** Absent: every model. */
  name?: string;
  version?: string;
}

export interface LoadRequest {
  name: string;
  /** The model config as JSON text, replacing the repository's. */
  config?: string;
  /** Names of `file:` overrides (refused). */
  files?: string[];
}

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** The names health checks answer for with server readiness; any other name is a model. */
const SERVER_SERVICES = new Set(['', 'inference.GRPCInferenceService', 'Predictor']);

export type GenerateCall = Omit<GenerateRequest, 'signal' | 'deadline' | 'trace'>;

export class Methods {
  constructor(private readonly dp: DataPlane) {}

  ServerLive(): { live: boolean } {
    return { live: this.dp.live() };
  }

  ServerReady(): { ready: boolean } {
    return { ready: this.dp.ready() };
  }

  ModelReady(_c: CallContext, r: ModelRef): { ready: boolean } {
    return { ready: this.dp.modelReady(r.name, r.version || undefined) };
  }

  ServerMetadata(): ServerMetadata {
    return this.dp.serverMetadata();
  }

  ModelMetadata(_c: CallContext, r: ModelRef): ModelMetadata {
    return this.dp.modelMetadata(r.name, r.version || undefined);
  }

  ModelConfig(_c: CallContext, r: ModelRef): ModelConfig {
    return this.dp.modelConfig(r.name, r.version || undefined);
  }

  ModelInfer(c: CallContext, r: InferRequest): Promise<InferResponse> {
    // The cancel hook when the adapter has one: then no AbortController is made for the request.
    const cancel = c.cancel;
    if (cancel) r.cancel = cancel;
    else r.signal = c.signal;
    r.deadline = c.deadline;
    r.trace = c.trace;
    return this.dp.infer(r);
  }

  /** One request of a stream: its responses as they come (one for an ordinary model). */
  ModelStreamInfer(c: CallContext, r: InferRequest): { decoupled: boolean; responses: AsyncIterable<InferResponse> } {
    return this.dp.openStream(Object.assign(r, scopeOf(c)));
  }

  ModelStatistics(_c: CallContext, r: StatisticsRequest): Record<string, unknown>[] {
    return this.dp.statistics(r.name || undefined, r.version || undefined);
  }

  RepositoryIndex(_c: CallContext, r: { ready?: boolean }): Promise<IndexEntry[]> {
    return this.dp.repositoryIndex(r.ready === true);
  }

  RepositoryModelLoad(_c: CallContext, r: LoadRequest): Promise<void> {
    return this.dp.loadModel(r.name, { config: r.config, files: r.files });
  }

  RepositoryModelUnload(_c: CallContext, r: ModelRef): Promise<void> {
    return this.dp.unloadModel(r.name);
  }

  /** Text (or Triton's generate fields) in, each response with its text out. */
  Generate(c: CallContext, r: GenerateCall): AsyncIterable<GenerateChunk> {
    return this.dp.generate({ ...r, ...scopeOf(c) }).chunks;
  }

  /** Generate for exactly one response (REST generate); a model that streams more is refused. */
  async GenerateOne(c: CallContext, r: GenerateCall): Promise<GenerateChunk> {
    const all: GenerateChunk[] = [];
    for await (const x of this.Generate(c, r)) all.push(x);
    if (all.length !== 1) {
      throw invalidArg(`model '${r.modelName}' sent ${all.length} responses; generate expects exactly one (use generate_stream)`);
    }
    return all[0];
  }

  async Predict(c: CallContext, r: { features: ArrayLike<number> }): Promise<{ score: number }> {
    return { score: await this.dp.predict({ features: r.features, ...scopeOf(c) }) };
  }

  /** grpc.health.v1 semantics: server names follow server readiness, a model name its model; else unknown. */
  servingStatus(service: string): ServingStatus {
    if (SERVER_SERVICES.has(service)) return this.dp.ready() ? 'SERVING' : 'NOT_SERVING';
    if (this.dp.modelReady(service)) return 'SERVING';
    return this.dp.knowsModel(service) ? 'NOT_SERVING' : 'SERVICE_UNKNOWN';
  }

  HealthCheck(_c: CallContext, r: { service: string }): { status: ServingStatus } {
    const status = this.servingStatus(r.service);
    if (status === 'SERVICE_UNKNOWN') throw new InferenceError('NOT_FOUND', `unknown service or model '${r.service}'`);
    return { status };
  }

  /** The status now, then each change, until the call ends. */
  async *HealthWatch(c: CallContext, r: { service: string }): AsyncIterable<{ status: ServingStatus }> {
    let wake: (() => void) | undefined;
    const off = this.dp.onStateChange(() => wake?.());
    const aborted = new Promise<void>((resolve) => c.signal.addEventListener('abort', () => resolve(), { once: true }));
    try {
      let last: ServingStatus | undefined;
      while (!c.signal.aborted) {
        const changed = new Promise<void>((resolve) => (wake = resolve));
        const now = this.servingStatus(r.service);
        if (now !== last) {
          last = now;
          yield { status: now };
        }
        await Promise.race([changed, aborted]);
      }
    } finally {
      off();
    }
  }

  /** Calls Duet answers UNIMPLEMENTED (shared memory, trace and log settings). */
  Unimplemented(what: string): never {
    throw new InferenceError('UNIMPLEMENTED', `${what} is not supported by this server`);
  }
}
