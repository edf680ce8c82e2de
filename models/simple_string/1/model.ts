// OUTPUT0 = INPUT0 + INPUT1 and OUTPUT1 = INPUT0 - INPUT1 on INT32 values written as ASCII decimals,
// wrapping on overflow as the ONNX `simple` model does. An example of a TypeScript model.

import type { InitializeArgs, Model, ModelRequest, ModelResponse } from '../../../src/backends/typescript/api.js';

function parseInt32(s: string, where: string, i: number): number {
  // The code makes this the client's error (400 / INVALID_ARGUMENT), not the model's (500 / INTERNAL).
  if (!/^\s*[-+]?\d+\s*$/.test(s)) throw Object.assign(new Error(`${where}[${i}] is not a decimal integer: ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s)}`), { code: 'INVALID_ARGUMENT' });
  return Number(s) | 0;
}

export default class SimpleString implements Model {
  private name = 'simple_string';

  initialize(args: InitializeArgs): void {
    this.name = args.modelName;
  }

  execute(requests: ModelRequest[]): (ModelResponse | Error)[] {
    return requests.map((req) => {
      try {
        const a = req.inputs.INPUT0.strings();
        const b = req.inputs.INPUT1.strings();
        const shape = req.inputs.INPUT0.shape;
        const sum: string[] = [];
        const diff: string[] = [];
        for (let i = 0; i < a.length; i++) {
          const x = parseInt32(a[i], `model '${this.name}' input INPUT0`, i);
          const y = parseInt32(b[i], `model '${this.name}' input INPUT1`, i);
          sum.push(String((x + y) | 0));
          diff.push(String((x - y) | 0));
        }
        return {
          outputs: [
            { name: 'OUTPUT0', datatype: 'BYTES', shape, data: sum },
            { name: 'OUTPUT1', datatype: 'BYTES', shape, data: diff },
          ],
        };
      } catch (e) {
        return e as Error;
      }
    });
  }
}
