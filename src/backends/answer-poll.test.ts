import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerDue, answerPolling, DEFAULT_ANSWER_POLL_US, registerOwer, setAnswerPollWindow, unregisterOwer } from './answer-poll.js';

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('the main thread polls while one answer alone is owed, until it comes or the window passes', async () => {
  const owed = { n: 0, awaiting() { return this.n; } };
  registerOwer(owed);
  /** One answer owed, just posted, under a window of `us`: polling starts. */
  const oneOwed = (us: number) => {
    setAnswerPollWindow(us);
    owed.n = 1;
    answerDue();
    assert.equal(answerPolling(), true);
  };
  try {
    oneOwed(60_000_000);
    await turns(20);
    assert.equal(answerPolling(), true, 'still polling while the answer is owed');
    owed.n = 0;
    await turns(3);
    assert.equal(answerPolling(), false, 'the answer came: polling stops');

    owed.n = 2;
    answerDue();
    assert.equal(answerPolling(), false, 'two answers owed: the loop has other work, no polling');
    owed.n = 1;
    answerDue();
    assert.equal(answerPolling(), true);
    owed.n = 3;
    await turns(3);
    assert.equal(answerPolling(), false, 'more work came in: polling stops');

    oneOwed(1_000);
    await sleep(20);
    assert.equal(answerPolling(), false, 'the window passed: the loop sleeps again');

    answerDue(5);
    assert.equal(answerPolling(), false, 'answers that take longer than the window are slept for');
    answerDue(0.5);
    assert.equal(answerPolling(), true, 'answers within the window are polled for');
    await sleep(20);

    setAnswerPollWindow(0);
    answerDue();
    assert.equal(answerPolling(), false, '0 turns polling off');
  } finally {
    unregisterOwer(owed);
    setAnswerPollWindow(DEFAULT_ANSWER_POLL_US);
    await turns(3);
  }
});
