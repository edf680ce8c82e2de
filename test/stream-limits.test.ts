// Streams cannot pin a model: a reader that stops reading is cut after --stream-idle-timeout and its
// model released; an unload ends the streams still open after the grace period with UNAVAILABLE.
// Over every protocol, through the SDK.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InferenceClient } from '../packages/client/src/types.js';
import { InferenceError } from '../src/core/errors.js';
import type { RunningServer } from '../src/server.js';
import { EXPLICIT, PROTOCOLS, scratchRepo, speaksGrpc, startTestServer, type TestServerOptions } from './harness.js';
import { writeTestModels } from './fixtures/streaming-models.js';

let repo: { dir: string; cleanup: () => Promise<void> };
let seq = 0;
before(async () => {
  repo = await scratchRepo();
  await writeTestModels(repo.dir);
});
after(() => repo.cleanup());

/** Models are unloaded and loaded again here: explicit model control. */
const start = (opts: TestServerOptions) => startTestServer(repo.dir, { ...EXPLICIT, metricsPort: null, ...opts });
const fileSize = (f: string) => (existsSync(f) ? statSync(f).size : 0);

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until the iterator ends or fails; resolves with the error, or undefined for a clean end. */
async function outcome(it: AsyncIterator<unknown>): Promise<unknown> {
  try {
    for (;;) if ((await it.next()).done) return undefined;
  } catch (e) {
    return e;
  }
}

/** A flood stream (2000 × 64 KiB) whose reader takes three responses and then stops reading. */
async function stalledFlood(c: InferenceClient, tag: string): Promise<{ it: AsyncIterator<Record<string, unknown>>; file: string }> {
  const file = join(repo.dir, `flood-${tag}-${++seq}.txt`);
  const it = c.generateStream('flood', { text_input: 'go', file })[Symbol.asyncIterator]();
  for (let i = 0; i < 3; i++) assert.equal((await it.next()).done, false);
  return { it, file };
}

describe('stream idle timeout', () => {
  let server: RunningServer;
  before(async () => {
    // The unload grace is long: only the idle timeout can release a stalled stream within the test's bounds.
    server = await start({ streamIdleTimeoutMs: 1000, shutdownGraceMs: 30_000 });
  });
  after(() => server.stop());

  for (const proto of PROTOCOLS) {
    test(`${proto.name}: a reader that stops reading is cut after the timeout, its model is released, other clients go on`, { timeout: 30_000 }, async () => {
      const c = proto.client(server);
      const other = proto.client(server);
      try {
        const { it, file } = await stalledFlood(c, proto.name);
        // Other clients are served while the stream is stalled.
        const words = await other.generate('param_echo', { text_input: 'x', tag: 'during' });
        assert.match(String(words.params), /during/);
        // Within the idle timeout (and some slack) the model stops producing, held by nobody.
        await sleep(1500);
        const a = fileSize(file);
        await sleep(500);
        assert.equal(fileSize(file), a, 'the model kept producing for a reader that stopped reading');
        assert.ok(a < 2000, `the model made all ${a} responses`);
        // The model is released: unloading it completes well within the 30 s grace period.
        await within(other.unloadModel('flood'), 5000, 'unloading the model of a timed-out stream');
        await other.loadModel('flood');
        // The reader, coming back, finds its stream cut, not complete.
        const err = await within(outcome(it), 10_000, 'reading the rest of the timed-out stream');
        assert.ok(err instanceof Error, `the timed-out stream ended cleanly (${String(err)})`);
        // gRPC-Web's trailer frame carries the same status as gRPC's trailers.
        if (speaksGrpc(proto)) {
          assert.ok(err instanceof InferenceError, String(err));
          assert.equal(err.code, 'CANCELLED');
          assert.match(err.message, /stream-idle-timeout/);
        }
        assert.equal((await other.generate('param_echo', { text_input: 'x', tag: 'after' })).params !== undefined, true);
      } finally {
        await c.close();
        await other.close();
      }
    });
  }
});

describe('unload with streams open', () => {
  let server: RunningServer;
  before(async () => {
    server = await start({ shutdownGraceMs: 1000 });
  });
  after(() => server.stop());

  for (const proto of PROTOCOLS) {
    test(`${proto.name}: streams still open after the grace period end with UNAVAILABLE, even one whose reader stopped, and the unload completes`, { timeout: 30_000 }, async () => {
      const c = proto.client(server);
      const stalledClient = proto.client(server);
      const other = proto.client(server);
      try {
        // A reader keeping up with a ticker (a token every 20 ms, for 30 s) ...
        const ticks = c.generateStream('ticker', { text_input: 'go', file: join(repo.dir, `ticker-${proto.name}-${++seq}.txt`) })[Symbol.asyncIterator]();
        assert.equal((await ticks.next()).done, false);
        const reading = outcome(ticks);
        // ... and a reader that stopped reading.
        const stalled = await stalledFlood(stalledClient, `unload-${proto.name}`);

        const t0 = Date.now();
        await within(other.unloadModel('ticker'), 5000, 'unloading ticker');
        await within(other.unloadModel('flood'), 5000, 'unloading flood');
        const took = Date.now() - t0;
        assert.ok(took >= 900, `the unloads took ${took} ms: the streams did not get their grace period`);

        const err = await within(reading, 5000, 'the ticker stream ending');
        assert.ok(err instanceof InferenceError, `the ticker stream ended with ${String(err)}`);
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(err.message, /model 'ticker' version 1 is unloading/);
        await stalled.it.return?.();
        await other.loadModel('ticker');
        await other.loadModel('flood');
      } finally {
        await c.close();
        await stalledClient.close();
        await other.close();
      }
    });
  }
});
