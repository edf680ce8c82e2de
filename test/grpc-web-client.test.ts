// Duet's own GrpcWebClient against the server, in both modes: the matrix (harness PROTOCOLS) runs every
// behaviour test in binary mode; here text mode gives the same answers, and what only a gRPC-Web reader
// sees (a status after streamed frames, trailers-only errors, large frames cut across chunks) is checked.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcClient } from '../packages/client/src/grpc.js';
import { GrpcWebClient } from '../packages/client/src/grpc-web.js';
import type { InferenceClient } from '../packages/client/src/types.js';
import type { RunningServer } from '../src/server.js';
import { baseUrl, collect, failure, scratchRepo, startTestServer } from './harness.js';
import { writeTestModels } from './fixtures/streaming-models.js';

let repo: Awaited<ReturnType<typeof scratchRepo>>;
let server: RunningServer;
let grpc: GrpcClient;
before(async () => {
  repo = await scratchRepo(['my_model', 'identity_fp32', 'text_repeat']);
  await writeTestModels(repo.dir);
  server = await startTestServer(repo.dir);
  grpc = new GrpcClient(`127.0.0.1:${server.grpc!.port}`);
});
after(async () => {
  await grpc?.close();
  await server?.stop();
  await repo?.cleanup();
});

for (const mode of ['text', 'binary'] as const) {
  describe(`grpc-web ${mode} mode`, () => {
    let c: InferenceClient;
    before(() => {
      c = new GrpcWebClient(baseUrl(server), { mode });
    });
    after(() => c.close());

    test('infer, metadata and config answer as over gRPC', async () => {
      const input = [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [1, 128], data: new Float32Array(128).map((_, i) => i / 8) }];
      const [web, ref] = await Promise.all([c.infer('my_model', input, { id: 'r1' }), grpc.infer('my_model', input, { id: 'r1' })]);
      assert.deepEqual(web.outputs.map((o) => [o.name, o.datatype, o.shape, Array.from(o.typed<Float32Array>())]),
        ref.outputs.map((o) => [o.name, o.datatype, o.shape, Array.from(o.typed<Float32Array>())]));
      assert.equal(web.id, 'r1');
      assert.deepEqual(await c.getModelMetadata('my_model'), await grpc.getModelMetadata('my_model'));
      assert.deepEqual(await c.getModelConfig('my_model'), await grpc.getModelConfig('my_model'));
    });

    test('a 4 MiB tensor each way, its frames cut across many chunks', async () => {
      const data = new Float32Array(1 << 20).map((_, i) => i);
      const r = await c.infer('identity_fp32', [{ name: 'INPUT0', datatype: 'FP32', shape: [1, data.length], data }]);
      assert.deepEqual(r.output('OUTPUT0').shape, [1, data.length]);
      assert.deepEqual(r.output('OUTPUT0').typed<Float32Array>(), data);
    });

    test('a stream: every response as it comes, in order', async () => {
      const all = await collect(c.generateStream('text_repeat', { text_input: 'la', count: 5 }));
      assert.deepEqual(all.map((r) => [r.index, r.text_output]), [[0, 'la'], [1, 'la'], [2, 'la'], [3, 'la'], [4, 'la']]);
    });

    test('an error after streamed responses: the responses first, then the error gRPC reports', async () => {
      const got: unknown[] = [];
      const e = await failure((async () => {
        for await (const r of c.generateStream('fail_after_two', { text_input: 'x' })) got.push(r.text_output);
      })());
      assert.deepEqual(got, ['one', 'two']);
      const ref = await failure(collect(grpc.generateStream('fail_after_two', { text_input: 'x' })));
      assert.deepEqual([e.code, e.message], [ref.code, ref.message]);
      assert.match(e.message, /deliberate failure/);
    });

    test('errors before any response (trailers-only) carry gRPC\'s code and message', async () => {
      for (const call of [(x: InferenceClient) => x.getModelConfig('no_such_model'), (x: InferenceClient) => x.infer('my_model', [])]) {
        const [e, ref] = await Promise.all([failure(call(c)), failure(call(grpc))]);
        assert.deepEqual([e.code, e.message], [ref.code, ref.message]);
      }
    });
  });
}
