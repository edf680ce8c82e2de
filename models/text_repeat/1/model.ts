import type { DecoupledModel, ModelRequest, ModelResponse } from '../../../src/backends/typescript/api.js';

export default class TextRepeat implements DecoupledModel {
  async *stream(req: ModelRequest, signal: AbortSignal): AsyncIterable<ModelResponse> {
    const text = req.inputs.text_input.bytes();
    const count = req.inputs.count.typed<Int32Array>()[0];
    if (count < 0) throw Object.assign(new Error(`count must be at least 0, got ${count}`), { code: 'INVALID_ARGUMENT' });
    for (let i = 0; i < count && !signal.aborted; i++) {
      yield {
        outputs: [
          { name: 'text_output', datatype: 'BYTES', shape: [1], data: text },
          { name: 'index', datatype: 'INT32', shape: [1], data: Int32Array.of(i) },
        ],
      };
    }
  }
}
