// BYTES in, the same bytes out: NUL bytes and invalid UTF-8 survive, which an ONNX string tensor
// (UTF-8 std::string) would not guarantee.

import type { Model, ModelRequest, ModelResponse } from '../../../src/backends/typescript/api.js';

export default class IdentityBytes implements Model {
  execute(requests: ModelRequest[]): ModelResponse[] {
    return requests.map((req) => {
      const t = req.inputs.INPUT0;
      return { outputs: [{ name: 'OUTPUT0', datatype: 'BYTES', shape: t.shape, data: t.data }] };
    });
  }
}
