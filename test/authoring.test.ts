// The model authoring API by its package name: a TypeScript model in a repository outside any Node project
// imports `duet-server/backend` (values, not only types) and the server resolves it to its own module, whether
// the model loads as CommonJS (tsx's choice outside an ESM package) or as ESM.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clientFor, failure, PROTOCOLS, scratchRepo, startTestServer } from './harness.js';
import type { RunningServer } from '../src/server.js';

const MODEL = `import { ModelError, type Model, type ModelRequest, type ModelResponse } from 'duet-server/backend';

export default class Shout implements Model {
  execute(requests: ModelRequest[]): ModelResponse[] {
    return requests.map((req) => {
      const text = req.inputs.text_input.strings()[0];
      if (text === '') throw new ModelError('nothing to shout', 'UNAVAILABLE');
      return { outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1], data: [text.toUpperCase()] }] };
    });
  }
}
`;

const config = (name: string) => `name: "${name}"
backend: "typescript"
max_batch_size: 0
input [ { name: "text_input", data_type: TYPE_STRING, dims: [ 1 ] } ]
output [ { name: "text_output", data_type: TYPE_STRING, dims: [ 1 ] } ]
`;

/** Model name -> whether its folder is an ESM package. */
const MODELS: Record<string, boolean> = { shout_cjs: false, shout_esm: true };

describe('a model imports duet-server/backend from outside any Node project', () => {
  let repo: Awaited<ReturnType<typeof scratchRepo>>;
  let server: RunningServer;
  before(async () => {
    repo = await scratchRepo();
    for (const [name, esm] of Object.entries(MODELS)) {
      await mkdir(join(repo.dir, name, '1'), { recursive: true });
      await writeFile(join(repo.dir, name, 'config.pbtxt'), config(name));
      await writeFile(join(repo.dir, name, '1', 'model.ts'), MODEL);
      if (esm) await writeFile(join(repo.dir, name, '1', 'package.json'), '{"type":"module"}');
    }
    server = await startTestServer(repo.dir);
  });
  after(async () => {
    await server?.stop();
    await repo?.cleanup();
  });

  for (const proto of PROTOCOLS) {
    describe(proto.name, () => {
      const s = clientFor(proto, () => server);
      for (const name of Object.keys(MODELS)) {
        test(`${name}: its results, and its ModelError's code`, async () => {
          const input = (text: string) => [{ name: 'text_input', datatype: 'BYTES' as const, shape: [1], data: [text] }];
          const r = await s.c.infer(name, input('duet'));
          assert.deepEqual(r.output('text_output').strings(), ['DUET']);
          const e = await failure(s.c.infer(name, input('')));
          assert.equal(e.code, 'UNAVAILABLE');
          assert.match(e.message, /nothing to shout/);
        });
      }
    });
  }
});
