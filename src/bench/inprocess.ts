// The in-process baseline of `duet bench`: the bench process loads the model with Duet's own
// ModelManager and DataPlane (scheduler, worker-thread backend, statistics: everything below the
// protocol adapters) and calls dataPlane.infer directly — no sockets, no encoding, no decoding.
// The difference between a protocol's latency and this one is what the protocol costs.

import { DataPlane } from '../dataplane.js';
import { ModelManager } from '../model-manager.js';
import type { Tensor } from '../core/tensor.js';
import { runLocalLoop, type LoadResult } from './load.js';
import type { BenchInput } from './payload.js';

export class InProcess {
  private readonly models: ModelManager;
  readonly dataPlane: DataPlane;
  private readonly loaded = new Map<string, Promise<void>>();

  constructor(private readonly repo: string) {
    this.models = new ModelManager(repo, {});
    this.dataPlane = new DataPlane(this.models, {});
  }

  load(model: string): Promise<void> {
    let p = this.loaded.get(model);
    if (!p) {
      p = this.models.load(model);
      this.loaded.set(model, p);
    }
    return p;
  }

  /** Closed loops calling dataPlane.infer; each call gets its own copy of the inputs, as a decoded request would. */
  async run(model: string, version: string | undefined, inputs: BenchInput[], concurrency: number, durationS: number, warmupS: number): Promise<LoadResult> {
    await this.load(model);
    if (!this.dataPlane.modelReady(model, version)) throw new Error(`model '${model}' is not ready in ${this.repo}`);
    const call = async () => {
      // The backend may transfer the input buffers to its worker thread, so each call sends fresh ones.
      const tensors: Tensor[] = inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape, data: i.raw.slice() }));
      await this.dataPlane.infer({ modelName: model, modelVersion: version, inputs: tensors, parameters: {} });
    };
    return runLocalLoop(call, concurrency, durationS, warmupS);
  }

  close(): Promise<void> {
    return this.models.close();
  }
}
