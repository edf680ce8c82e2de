// The dev overlay's model, mounted from a ConfigMap: returns its text input as its text output.
import type { Model, ModelRequest, ModelResponse } from 'duet-server/backend';

export default class Echo implements Model {
  execute(requests: ModelRequest[]): ModelResponse[] {
    return requests.map((r) => ({ outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1], data: r.inputs.text_input.bytes() }] }));
  }
}
