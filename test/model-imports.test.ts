// A TypeScript model in a repository outside any Node project (as in /mnt/models) that imports a package
// Duet ships: the package is found in Duet's own node_modules, whether tsx compiles the model to CommonJS
// (a .ts file with no ESM package around it) or loads it as ESM (.mts); an import of a package that
// neither the model nor Duet has still fails its load, naming the package. Over every protocol.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceClient } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { PROTOCOLS, startTestServer } from './harness.js';

const config = (name: string) => `name: "${name}"
backend: "typescript"
max_batch_size: 0
input [ { name: "text_input", data_type: TYPE_STRING, dims: [ 1 ] } ]
output [ { name: "text_output", data_type: TYPE_STRING, dims: [ 1 ] } ]
`;

/** The number in text_input plus one, by 'long' (a dependency of Duet, not of the model). */
const model = (pkg: string) => `import Long from '${pkg}';
import type { Model, ModelRequest, ModelResponse } from 'duet-server/backend';

export default class Next implements Model {
  execute(requests: ModelRequest[]): ModelResponse[] {
    return requests.map((r) => ({
      outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1], data: [Long.fromString(r.inputs.text_input.strings()[0]).add(1).toString()] }],
    }));
  }
}
`;

let repo: string;
let server: RunningServer;

before(async () => {
  repo = await mkdtemp(join(tmpdir(), 'duet-imports-'));
  const models: [string, string, string][] = [['next_cjs', 'model.ts', 'long'], ['next_esm', 'model.mts', 'long'], ['missing', 'model.mts', 'no-such-package-duet']];
  for (const [name, file, pkg] of models) {
    await mkdir(join(repo, name, '1'), { recursive: true });
    await writeFile(join(repo, name, 'config.pbtxt'), config(name));
    await writeFile(join(repo, name, '1', file), model(pkg));
  }
  server = await startTestServer(repo);
});

after(async () => {
  await server?.stop();
  await rm(repo, { recursive: true, force: true });
});

test('a package neither the model nor Duet has fails the load, naming it', async () => {
  const index = await server.dataPlane.repositoryIndex();
  const missing = index.find((e) => e.name === 'missing');
  assert.equal(missing?.state, 'UNAVAILABLE');
  assert.match(missing!.reason, /no-such-package-duet/);
});

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    before(() => {
      c = proto.client(server);
    });
    after(() => c?.close());

    for (const name of ['next_cjs', 'next_esm']) {
      test(`${name}: imports 'long' from Duet's node_modules`, async () => {
        const r = await c.infer(name, [{ name: 'text_input', datatype: 'BYTES', shape: [1], data: ['9007199254740993'] }]);
        assert.deepEqual(r.output('text_output').strings(), ['9007199254740994']);
      });
    }
  });
}
