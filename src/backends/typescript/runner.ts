// Runs a user's TypeScript/JavaScript model module inside a worker thread.

import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { InferenceError, STATUS_TABLE } from '../../core/errors.js';
import { checkTensorSize } from '../../core/tensor.js';
import type { ExecuteRequest, ExecuteResult, LoadResult, LoadSpec, StreamItem } from '../backend.js';
import type { Runner } from '../runner.js';
import { resolveApiSpecifier } from './resolve-hook.js';
import { ModelError, ModelTensor, toTensor, type DecoupledModel, type Model, type ModelRequest, type ModelResponse } from './api.js';

type AnyModel = Partial<Model> & Partial<DecoupledModel>;

type ModelClass = new () => AnyModel;

function findClass(mod: Record<string, unknown>): ModelClass | undefined {
  // tsx hands CommonJS-compiled modules back with the real exports under .default.
  const candidates = [mod.default, (mod.default as Record<string, unknown> | undefined)?.default, mod.Model];
  return candidates.find((c) => typeof c === 'function') as ModelClass | undefined;
}

function toModelRequest(r: ExecuteRequest): ModelRequest {
  return {
    id: r.id,
    parameters: r.parameters,
    requestedOutputs: r.outputs,
    inputs: Object.fromEntries(r.inputs.map((t) => [t.name, new ModelTensor(t.name, t.datatype, t.shape, t.data)])),
  };
}

export class TypeScriptRunner implements Runner {
  private model: AnyModel | undefined;
  private modelName = '';

  async load(spec: LoadSpec): Promise<LoadResult> {
    this.modelName = spec.modelName;
    let mod: Record<string, unknown>;
    resolveApiSpecifier();
    try {
      mod = /\.[cm]?ts$/.test(spec.modelFile)
        ? await tsImport(spec.modelFile, import.meta.url)
        : await import(pathToFileURL(spec.modelFile).href);
    } catch (e) {
      throw new InferenceError('INVALID_ARGUMENT', `cannot import model module ${spec.modelFile}: ${(e as Error).message}`);
    }
    const Cls = findClass(mod);
    if (!Cls) throw new InferenceError('INVALID_ARGUMENT', `model module ${spec.modelFile} exports no class (default export or 'Model')`);
    const model = new Cls();
    const decoupled = spec.config.model_transaction_policy?.decoupled === true;
    if (decoupled && typeof model.stream !== 'function') {
      throw new InferenceError('INVALID_ARGUMENT', `model '${spec.modelName}' is decoupled, so its class in ${spec.modelFile} must have a stream(request, signal) method`);
    }
    if (!decoupled && typeof model.execute !== 'function') {
      throw new InferenceError('INVALID_ARGUMENT', `model class in ${spec.modelFile} has no execute(requests) method`);
    }
    await model.initialize?.({
      config: spec.config,
      modelName: spec.modelName,
      version: spec.version,
      modelDir: spec.modelDir,
      versionDir: spec.versionDir,
      instanceName: spec.instanceName,
    });
    this.model = model;
    return {};
  }

  async execute(requests: ExecuteRequest[]): Promise<ExecuteResult[]> {
    const model = this.model;
    if (!model?.execute) throw new InferenceError('UNAVAILABLE', 'model is not initialized');
    const reqs = requests.map(toModelRequest);
    let responses;
    try {
      responses = await model.execute(reqs);
    } catch (e) {
      const err = this.asError(e);
      return requests.map(() => err);
    }
    if (!Array.isArray(responses) || responses.length !== requests.length) {
      const err = new InferenceError('INTERNAL', `model '${this.modelName}' returned ${Array.isArray(responses) ? responses.length : typeof responses} responses for ${requests.length} requests`);
      return requests.map(() => err);
    }
    return responses.map((r, i) => {
      if (r instanceof Error) return this.asError(r);
      try {
        return this.outputsOf(r, requests[i].outputs);
      } catch (e) {
        return new InferenceError('INTERNAL', `model '${this.modelName}' returned a bad response: ${(e as Error).message}`);
      }
    });
  }

  async *stream(request: ExecuteRequest, signal: AbortSignal): AsyncIterable<StreamItem> {
    const model = this.model;
    if (!model?.stream) throw new InferenceError('UNAVAILABLE', 'model is not initialized');
    let iter: AsyncIterable<ModelResponse>;
    try {
      iter = model.stream(toModelRequest(request), signal);
    } catch (e) {
      throw this.asError(e);
    }
    try {
      for await (const r of iter) {
        let outputs;
        try {
          outputs = this.outputsOf(r, request.outputs);
        } catch (e) {
          throw new InferenceError('INTERNAL', `model '${this.modelName}' streamed a bad response: ${(e as Error).message}`);
        }
        yield { outputs, parameters: r.parameters };
      }
    } catch (e) {
      throw this.asError(e);
    }
  }

  private outputsOf(r: ModelResponse, wanted: string[] | undefined) {
    const outs = (r.outputs ?? []).filter((o) => !wanted || wanted.includes(o.name)).map(toTensor);
    for (const t of outs) checkTensorSize(t, `model '${this.modelName}' output '${t.name}'`);
    return outs;
  }

  private asError(e: unknown): InferenceError {
    if (e instanceof InferenceError) return e;
    // ModelError, or any error carrying one of the table's codes (a model file may not share our class).
    if (e instanceof ModelError || (e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && (e as unknown as { code: string }).code in STATUS_TABLE)) {
      return new InferenceError((e as ModelError).code, e.message);
    }
    return new InferenceError('INTERNAL', `model '${this.modelName}' failed: ${e instanceof Error ? e.message : String(e)}`);
  }

  async close(): Promise<void> {
    await this.model?.finalize?.();
    this.model = undefined;
  }
}
