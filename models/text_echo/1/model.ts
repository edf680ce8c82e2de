import type { Model, ModelRequest, ModelResponse } from '../../../src/backends/typescript/api.js';

export default class TextEcho implements Model {
  execute(requests: ModelRequest[]): ModelResponse[] {
    return requests.map((req) => ({
      outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1], data: req.inputs.text_input.bytes() }],
    }));
  }
}
