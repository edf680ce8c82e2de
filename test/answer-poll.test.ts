// Answer polling, over every protocol: while one request alone waits on its model worker the main thread
// keeps polling for the answer; with answerPollUs 0 (--answer-poll-us 0) it sleeps. A slow model and a
// window longer than it make the polling visible from the test.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningServer } from '../src/server.js';
import type { InferenceClient } from '../packages/client/src/types.js';
import { answerPolling, DEFAULT_ANSWER_POLL_US, setAnswerPollWindow } from '../src/backends/answer-poll.js';
import { writeModels } from './fixtures/streaming-models.js';
import { PROTOCOLS, startTestServer } from './harness.js';

const SLOW = {
  config: 'input [ { name: "x", data_type: TYPE_INT32, dims: [ 1 ] } ]\noutput [ { name: "y", data_type: TYPE_INT32, dims: [ 1 ] } ]',
  code: `
export default class Slow {
  async execute(requests) {
    await new Promise((r) => setTimeout(r, 120));
    return requests.map(() => ({ outputs: [{ name: 'y', datatype: 'INT32', shape: [1], data: Int32Array.of(7) }] }));
  }
}`,
};

for (const proto of PROTOCOLS) {
  for (const windowUs of [500_000, 0]) {
    describe(`${proto.name}: answer polling ${windowUs ? 'on' : 'off'}`, () => {
      let dir: string;
      let server: RunningServer;
      let c: InferenceClient;
      before(async () => {
        dir = await mkdtemp(join(tmpdir(), 'duet-poll-'));
        await writeModels(dir, { slow: SLOW });
        server = await startTestServer(dir, { answerPollUs: windowUs });
        c = proto.client(server);
      });
      after(async () => {
        await c?.close();
        await server?.stop();
        await rm(dir, { recursive: true, force: true });
        setAnswerPollWindow(DEFAULT_ANSWER_POLL_US);
      });

      test(windowUs ? 'the main thread polls while the one request waits, and stops once it is answered'
        : 'the main thread sleeps while the request waits', async () => {
        const call = c.infer('slow', [{ name: 'x', datatype: 'INT32', shape: [1], data: Int32Array.of(1) }]);
        await sleep(50);
        const waiting = answerPolling();
        const r = await call;
        assert.deepEqual(r.output('y').values(), [7]);
        assert.equal(waiting, windowUs > 0);
        await sleep(10);
        assert.equal(answerPolling(), false, 'nothing is owed: no polling');
      });
    });
  }
}
