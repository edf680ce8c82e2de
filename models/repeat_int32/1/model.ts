// For each i: wait DELAY[i] ms, then respond OUT=[IN[i]], IDX=[i]; then wait WAIT[0] ms and finish.

import type { DecoupledModel, ModelRequest, ModelResponse } from '../../../src/backends/typescript/api.js';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export default class RepeatInt32 implements DecoupledModel {
  async *stream(req: ModelRequest, signal: AbortSignal): AsyncIterable<ModelResponse> {
    const input = req.inputs.IN;
    const delay = req.inputs.DELAY;
    if (input.shape.join(',') !== delay.shape.join(',')) {
      // A code from Duet's error table makes this a client error (400 / INVALID_ARGUMENT), not a model failure.
      throw Object.assign(new Error(`IN and DELAY must have the same shape: IN is [${input.shape.join(',')}], DELAY is [${delay.shape.join(',')}]`), { code: 'INVALID_ARGUMENT' });
    }
    const values = input.typed<Int32Array>();
    const delays = delay.typed<Uint32Array>();
    for (let i = 0; i < values.length; i++) {
      await sleep(delays[i], signal);
      if (signal.aborted) return;
      yield {
        outputs: [
          { name: 'OUT', datatype: 'INT32', shape: [1], data: Int32Array.of(values[i]) },
          { name: 'IDX', datatype: 'UINT32', shape: [1], data: Uint32Array.of(i) },
        ],
      };
    }
    await sleep(req.inputs.WAIT.typed<Uint32Array>()[0], signal);
  }
}
