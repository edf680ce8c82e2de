// A decoupled model's streams get what unary requests get: the queue policy (max_queue_size per
// priority level, priority levels, the `timeout` parameter and the policy's default timeout), the
// gRPC deadline, and Triton-style statistics (one success or failure per stream, with its duration).
// Written once over every protocol through the SDK's generateStream; the deadline is gRPC's own.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { inference } from '../src/generated/proto.js';
import { INFERENCE_SERVICE } from '../src/protocols/grpc/server.js';
import type { RunningServer } from '../src/server.js';
import { clientFor, failure, PROTOCOLS, scratchRepo, startTestServer } from './harness.js';

const MODEL = 'slow_first';
// Waits DELAY ms (or until aborted), then answers IDX 0 and IDX 1. One waiting stream fills a level's queue.
const CONFIG = `name: "${MODEL}"
backend: "typescript"
max_batch_size: 1
model_transaction_policy { decoupled: true }
input [ { name: "DELAY", data_type: TYPE_UINT32, dims: [ 1 ] } ]
output [ { name: "IDX", data_type: TYPE_INT32, dims: [ 1 ] } ]
dynamic_batching { priority_levels: 2 default_priority_level: 2 default_queue_policy { max_queue_size: 1 allow_timeout_override: true } }
`;
const CODE = `
export default class SlowFirst {
  async *stream(req, signal) {
    const ms = req.inputs.DELAY.typed()[0];
    await new Promise((r) => { const t = setTimeout(r, ms); signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true }); });
    if (signal.aborted) return;
    for (const i of [0, 1]) yield { outputs: [{ name: 'IDX', datatype: 'INT32', shape: [1, 1], data: Int32Array.of(i) }] };
  }
}`;

let server: RunningServer;
let repo: { dir: string; cleanup: () => Promise<void> };

before(async () => {
  repo = await scratchRepo();
  await mkdir(join(repo.dir, MODEL, '1'), { recursive: true });
  await writeFile(join(repo.dir, MODEL, 'config.pbtxt'), CONFIG);
  await writeFile(join(repo.dir, MODEL, '1', 'model.mjs'), CODE);
  server = await startTestServer(repo.dir);
});
after(async () => {
  await server?.stop();
  await repo?.cleanup();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const scheduler = () => server.models.get(MODEL).scheduler;

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** success and fail counts and nanoseconds of the model's statistics. */
function stats() {
  const s = server.dataPlane.statistics(MODEL)[0] as { inference_stats: Record<'success' | 'fail', { count: number; ns: number }> };
  return s.inference_stats;
}

for (const proto of PROTOCOLS) {
  describe(proto.name, () => {
    const k = clientFor(proto, () => server);

    test('max_queue_size bounds the streams still waiting for their first response, per priority level', { timeout: 20_000 }, async () => {
      const slow = collect(k.c.generateStream(MODEL, { DELAY: 1000 }));
      await waitFor(() => scheduler().pending === 1, 'the first stream to open');
      const full = await failure(collect(k.c.generateStream(MODEL, { DELAY: 0 })));
      assert.equal(full.code, 'UNAVAILABLE');
      assert.match(full.message, /slow_first.*the queue is full \(max_queue_size 1\)/);
      // Priority level 1 has a queue of its own.
      const other = await collect(k.c.generateStream(MODEL, { DELAY: 0, priority: 1 }));
      assert.deepEqual(other.map((r) => r.IDX), [0, 1]);
      assert.deepEqual((await slow).map((r) => r.IDX), [0, 1]);
      // Answered streams no longer count: the level takes a new one.
      assert.equal((await collect(k.c.generateStream(MODEL, { DELAY: 0 }))).length, 2);
    });

    test('a priority outside 1..priority_levels is INVALID_ARGUMENT, as for infer', { timeout: 10_000 }, async () => {
      const e = await failure(collect(k.c.generateStream(MODEL, { DELAY: 0, priority: 3 })));
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /priority 3 is outside 1\.\.2/);
      const t = await failure(collect(k.c.generateStream(MODEL, { DELAY: 0, timeout: 'soon' })));
      assert.equal(t.code, 'INVALID_ARGUMENT');
      assert.match(t.message, /parameter 'timeout' must be a non-negative number of microseconds, got "soon"/);
    });

    test('the `timeout` parameter bounds the wait for the first response (DEADLINE_EXCEEDED), and the model is stopped', { timeout: 10_000 }, async () => {
      const t0 = Date.now();
      const e = await failure(collect(k.c.generateStream(MODEL, { DELAY: 5000, timeout: 100_000 })));
      assert.equal(e.code, 'DEADLINE_EXCEEDED');
      assert.match(e.message, /slow_first.*timed out after 100000 µs without a first response/);
      assert.ok(Date.now() - t0 < 3000, `the timeout fired after ${Date.now() - t0} ms`);
      await waitFor(() => scheduler().pending === 0, 'the timed-out stream to leave the scheduler');
    });

    test('statistics: a stream counts once, a success when it ends normally and a failure when it fails, with its duration', { timeout: 10_000 }, async () => {
      const before = stats();
      assert.equal((await collect(k.c.generateStream(MODEL, { DELAY: 50 }))).length, 2);
      const mid = stats();
      assert.equal(mid.success.count, before.success.count + 1);
      assert.equal(mid.fail.count, before.fail.count);
      assert.ok(mid.success.ns - before.success.ns >= 40e6, `a 50 ms stream added ${mid.success.ns - before.success.ns} ns`);
      await failure(collect(k.c.generateStream(MODEL, { DELAY: 5000, timeout: 50_000 })));
      await failure(collect(k.c.generateStream(MODEL, { DELAY: 0, priority: 7 })));
      const end = stats();
      assert.equal(end.success.count, mid.success.count);
      assert.equal(end.fail.count, mid.fail.count + 2);
    });
  });
}

describe('gRPC deadline on ModelStreamInfer', () => {
  test('grpc-timeout ends a stream still running with DEADLINE_EXCEEDED; it counts as a failure and leaves the scheduler', { timeout: 10_000 }, async () => {
    const client = new grpc.Client(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
    try {
      const before = stats();
      const def = INFERENCE_SERVICE.ModelStreamInfer;
      const t0 = Date.now();
      const call = client.makeBidiStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, new grpc.Metadata(), { deadline: Date.now() + 300 });
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('data', () => {});
      call.on('error', () => {});
      call.write(inference.ModelInferRequest.create({
        model_name: MODEL, inputs: [{ name: 'DELAY', datatype: 'UINT32', shape: [1, 1] }], raw_input_contents: [Buffer.from(Uint32Array.of(5000).buffer)],
      }));
      const s = await status;
      assert.equal(s.code, grpc.status.DEADLINE_EXCEEDED, s.details);
      assert.ok(Date.now() - t0 < 3000, `the deadline fired after ${Date.now() - t0} ms`);
      await waitFor(() => scheduler().pending === 0, 'the stream to leave the scheduler');
      await waitFor(() => stats().fail.count === before.fail.count + 1, 'the stream to count as a failure');
    } finally {
      client.close();
    }
  });
});
