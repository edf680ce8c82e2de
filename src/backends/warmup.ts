// Running a model's warmup samples (built by repository/warmup.ts) on one instance before it serves.

import type { WarmupSample } from '../repository/warmup.js';
import type { ModelInstance } from './backend.js';

/** Runs each warmup sample on one instance; a failed request fails the load, naming the sample. */
export async function warmUp(inst: ModelInstance, samples: WarmupSample[], decoupled: boolean): Promise<void> {
  for (const s of samples) {
    const requests = s.requests.map((inputs) => ({ inputs, parameters: {} }));
    try {
      for (let run = 0; run < s.runs; run++) {
        if (decoupled) {
          for (const r of requests) for await (const _ of inst.stream(r, new AbortController().signal));
          continue;
        }
        const { results } = await inst.execute(requests);
        const failed = results.find((r) => !Array.isArray(r));
        if (failed) throw failed;
      }
    } catch (e) {
      throw new Error(`model_warmup sample '${s.name}' failed on instance ${inst.name}: ${(e as Error).message}`);
    }
  }
}
