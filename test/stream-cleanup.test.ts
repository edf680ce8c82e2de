// A client that leaves in the middle of a stream must release the model: unloading it (and so
// shutting the server down) afterwards completes instead of waiting forever for the stream.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InferenceClient } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { EXPLICIT, PROTOCOLS, scratchRepo, startTestServer } from './harness.js';

let server: RunningServer;
let repo: Awaited<ReturnType<typeof scratchRepo>>;
before(async () => {
  repo = await scratchRepo(['text_repeat']);
  server = await startTestServer(repo.dir, EXPLICIT);
});
after(async () => {
  await server.stop();
  await repo.cleanup();
});

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms))),
  ]);
}

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    let c: InferenceClient;
    before(() => {
      c = proto.client(server);
    });
    after(() => c.close());

    test('leaving a fast stream midway, then unloading the model, completes every time', async () => {
      for (let round = 0; round < 8; round++) {
        let got = 0;
        // A long stream produced as fast as the window allows; the client leaves after 3 responses.
        for await (const _ of c.generateStream('text_repeat', { text_input: 'x'.repeat(2000), count: 1_000_000 })) {
          if (++got === 3) break;
        }
        assert.equal(got, 3);
        await within(c.unloadModel('text_repeat'), 10_000, `unload after an abandoned stream (round ${round})`);
        await c.loadModel('text_repeat');
      }
    });
  });
}
