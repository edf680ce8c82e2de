// THE protocol-neutral API. Protocol adapters translate to and from these calls; validation,
// model lookup and errors live here, once.

import { InferenceError, unavailable } from './core/errors.js';
import type { InferRequest, InferResponse } from './core/infer.js';
import type { ModelConfig } from './core/model-config.js';
import { nowMs } from './core/trace.js';
import { mapStream } from './core/iter.js';
import type { IndexEntry, ModelManager, ServedVersion } from './model-manager.js';
import { configJson } from './repository/config-json.js';
import { stopAt } from './dataplane/stop.js';
import { DEFAULT_GENERATE_MODEL, DEFAULT_PREDICTOR_MODEL, generateChunks, generateInferRequest, predictRequest, predictScore, type GenerateChunk, type GenerateRequest, type PredictRequest } from './dataplane/conventions.js';
import { dtOf, finishOutputs, isDecoupled, queueParameters, validate } from './dataplane/validate.js';

export type { GenerateChunk, GenerateRequest, PredictRequest };

export const SERVER_NAME = 'duet';
export const SERVER_VERSION = '0.1.0';
/** Triton's answer to load/unload when model control mode is not 'explicit' (its words, in every mode). */
export const MODEL_CONTROL_DISABLED = 'explicit model load / unload is not allowed if polling is enabled';

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface DataPlaneOptions {
  /** Extensions the running front-ends support, for server metadata. */
  extensions?: string[];
  /** Server ready only when every model is (Triton's default). */
  strictReadiness?: boolean;
  /** The model behind predict (gRPC Predictor.Predict). */
  predictorModel?: string;
  /** The model generate runs when a request names none (gRPC duet.Generator). */
  generateModel?: string;
}

export class DataPlane {
  private shuttingDown = false;
  private readonly extensions: string[];
  private readonly strict: boolean;
  private readonly predictorModel: string;
  private readonly generateModel: string;

  constructor(readonly models: ModelManager, opts: DataPlaneOptions = {}) {
    this.extensions = opts.extensions ?? [];
    this.strict = opts.strictReadiness ?? true;
    this.predictorModel = opts.predictorModel ?? DEFAULT_PREDICTOR_MODEL;
    this.generateModel = opts.generateModel ?? DEFAULT_GENERATE_MODEL;
  }

  live(): boolean {
    return true;
  }

  ready(): boolean {
    return !this.shuttingDown && (!this.strict || this.models.allReady());
  }

  /** Readiness turns false first, so load balancers stop sending before the server stops. */
  beginShutdown(): void {
    this.shuttingDown = true;
    this.models.emit('change');
  }

  /** Call `fn` whenever server or model readiness may have changed; returns the unsubscribe. */
  onStateChange(fn: () => void): () => void {
    this.models.on('change', fn);
    return () => this.models.off('change', fn);
  }

  /** True for any model the server has tried to load, ready or not. */
  knowsModel(name: string): boolean {
    return this.models.has(name);
  }

  serverMetadata(): ServerMetadata {
    return { name: SERVER_NAME, version: SERVER_VERSION, extensions: this.extensions };
  }

  modelReady(name: string, version?: string): boolean {
    return this.models.isReady(name, version);
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const sv = this.models.get(name, version);
    const all = version ? [sv.version] : this.models.loadedVersions(name);
    const batch = sv.config.max_batch_size > 0;
    const meta = (c: { name: string; data_type: string; dims: number[] }) => ({
      name: c.name,
      datatype: dtOf(c),
      shape: batch ? [-1, ...c.dims] : c.dims.slice(),
    });
    return {
      name,
      versions: all,
      platform: sv.config.platform ?? sv.config.backend ?? '',
      inputs: sv.config.input.map(meta),
      outputs: sv.config.output.map(meta),
    };
  }

  /** Triton's JSON form of the config (every field without presence printed), for REST and gRPC alike. */
  modelConfig(name: string, version?: string): ModelConfig {
    return configJson(this.models.get(name, version).config);
  }

  repositoryIndex(readyOnly = false): Promise<IndexEntry[]> {
    return this.models.index(readyOnly);
  }

  /**
   * The repository API's load: only in model control mode 'explicit', as in Triton. `config` replaces the
   * model's config file; `files` are the names of `file:` overrides, which this server does not take.
   */
  async loadModel(name: string, opts: { config?: string; files?: string[] } = {}): Promise<void> {
    this.checkModelControl();
    if (opts.files?.length) {
      throw new InferenceError('UNIMPLEMENTED', `model file overrides (${opts.files[0]}) are not supported; put the files in the repository`);
    }
    return this.models.load(name, opts.config);
  }

  async unloadModel(name: string): Promise<void> {
    this.checkModelControl();
    return this.models.unload(name);
  }

  private checkModelControl(): void {
    // Triton's status and words, so its clients recognise them.
    if (this.models.controlMode !== 'explicit') throw unavailable(MODEL_CONTROL_DISABLED);
  }

  /** Not async: returning inferOn's promise from an async function costs two more microtask turns. Never throws; rejects. */
  infer(req: InferRequest): Promise<InferResponse> {
    let sv: ServedVersion;
    try {
      sv = this.models.get(req.modelName, req.modelVersion);
    } catch (e) {
      return Promise.reject(e);
    }
    if (isDecoupled(sv.config)) {
      return Promise.reject(new InferenceError('UNIMPLEMENTED', `model '${sv.name}' is decoupled (it streams zero or more responses per request); use gRPC ModelStreamInfer or REST generate_stream, not a single-response infer call`));
    }
    return this.inferOn(sv, req);
  }

  /**
   * The responses to one request as they come: one for an ordinary model, zero or more for a
   * decoupled one. Validation errors throw here, before the first response. A decoupled model's
   * stream gets the same checks, queue policy (scheduler.stream), deadline, trace and statistics as
   * infer: it counts as one request, a success when it ends normally, else a failure.
   */
  openStream(req: InferRequest): { decoupled: boolean; responses: AsyncIterable<InferResponse> } {
    const sv = this.models.get(req.modelName, req.modelVersion);
    if (!isDecoupled(sv.config)) {
      const one = this.inferOn(sv, req);
      one.catch(() => {}); // observed by the iterator below
      return { decoupled: false, responses: (async function* () { yield await one; })() };
    }
    const start = performance.now();
    let checked;
    try {
      checked = { ...validate(sv, req), queue: queueParameters(sv, req) };
    } catch (e) {
      sv.stats.recordFail((performance.now() - start) * 1e6);
      throw e;
    }
    const { inputs, outputs, classify, queue } = checked;
    const names = outputs?.map((o) => o.name);
    const signal = req.signal ?? new AbortController().signal;
    const trace = req.trace;
    let first: number | undefined;
    const wanted = names ?? sv.config.output.map((o) => o.name);
    const items = sv.scheduler.stream({ id: req.id, inputs, outputs: names, parameters: req.parameters }, signal, { ...queue, deadline: req.deadline, trace });
    return {
      decoupled: true,
      // A plain iterator, not a generator: every token passes here (see core/iter.ts).
      responses: mapStream(() => items, (item): InferResponse => {
        if (trace && first === undefined) trace.record('queue', performance.timeOrigin + start, (first = nowMs()));
        // A response may carry a subset of the outputs (or none): only those present are finished.
        const present = wanted.filter((n) => item.outputs.some((t) => t.name === n));
        return {
          modelName: sv.name,
          modelVersion: sv.version,
          id: req.id,
          parameters: item.parameters,
          outputs: finishOutputs(sv, item.outputs, present, classify),
        };
      }, (how, err) => {
        const ns = (performance.now() - start) * 1e6;
        if (how === 'done') sv.stats.recordSuccess(ns);
        else sv.stats.recordFail(ns);
        if (trace && first !== undefined) trace.record('compute', first, nowMs());
        return err;
      }),
    };
  }

  /**
   * Text generation: a prompt (or Triton's generate JSON fields) in, each response with its text and,
   * on the last, its finish reason. Which tensors hold the text is the model config's business
   * (conventions.ts); with no model named, the server's generate model runs.
   */
  generate(req: GenerateRequest): { decoupled: boolean; chunks: AsyncIterable<GenerateChunk> } {
    const name = req.modelName || this.generateModel;
    const sv = this.models.get(name, req.modelVersion);
    const plan = generateInferRequest(sv, this.modelMetadata(name, req.modelVersion).inputs, { ...req, modelName: name });
    const { decoupled, responses } = this.openStream(plan.infer);
    const chunks = generateChunks(responses, plan.textOutput, plan.promptBytes);
    return { decoupled, chunks: req.stop?.length ? stopAt(chunks, req.stop) : chunks };
  }

  /** The Predictor contract: features in, the predictor model's first output element as the score. */
  async predict(req: PredictRequest): Promise<number> {
    const sv = this.models.get(this.predictorModel);
    return predictScore(sv.name, await this.infer(predictRequest(sv, req)));
  }

  private async inferOn(sv: ServedVersion, req: InferRequest): Promise<InferResponse> {
    const start = performance.now();
    try {
      const { inputs, outputs, classify } = validate(sv, req);
      const names = outputs?.map((o) => o.name);
      const q = queueParameters(sv, req);
      let result = await sv.scheduler.submit(
        { id: req.id, inputs, outputs: names, parameters: req.parameters },
        { signal: req.signal, cancel: req.cancel, deadline: req.deadline, trace: req.trace, priority: q.priority, timeoutUs: q.timeoutUs },
      );
      result = finishOutputs(sv, result, names, classify);
      sv.stats.recordSuccess((performance.now() - start) * 1e6);
      return { modelName: sv.name, modelVersion: sv.version, id: req.id, outputs: result };
    } catch (e) {
      sv.stats.recordFail((performance.now() - start) * 1e6);
      throw e;
    }
  }

  /** Triton's statistics extension for one model (all its loaded versions) or every model. */
  statistics(name?: string, version?: string): Record<string, unknown>[] {
    const targets = name ? (version ? [this.models.get(name, version)] : this.models.loadedVersions(name).map((v) => this.models.get(name, v))) : this.models.allLoaded();
    if (name && targets.length === 0) this.models.get(name); // throws the right NOT_FOUND / UNAVAILABLE
    return targets.map((sv) => sv.stats.toJson(sv.name, sv.version));
  }
}
