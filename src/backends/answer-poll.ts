// Polling for model workers' answers instead of sleeping for them.
//
// A thread that sleeps in epoll on a virtual machine lets its vCPU halt; once the hypervisor stops
// halt-polling (KVM: ~200 µs by default) waking it again takes an interrupt and a VM entry, measured at
// 80-120 µs here against ~15 µs for a thread still running (BENCHMARKS.md, "answer polling"). A model
// worker's answer that comes 0.1-1 ms after the request pays that on every hop back. So while an answer
// is due, the main thread keeps its event loop turning (setImmediate: epoll with a zero timeout) for up
// to a window, and sleeps as usual when nothing is due or the window passes.

/** How long the main thread polls for an answer before it sleeps, by default. */
export const DEFAULT_ANSWER_POLL_US = 1000;
/** Process-wide, set by the server (--answer-poll-us); 0 turns polling off. */
let windowMs = DEFAULT_ANSWER_POLL_US / 1000;
let until = 0;
let running = false;

/** What the poller asks: how many answers this instance owes (executions posted, streams not yet answered). */
export interface Awaiting {
  awaiting(): number;
}
const owers = new Set<Awaiting>();

export function setAnswerPollWindow(us: number): void {
  windowMs = Math.max(0, us) / 1000;
}

/** For tests: whether the main thread is polling now. */
export function answerPolling(): boolean {
  return running;
}

/** `a` may owe answers from now on (until unregistered). */
export function registerOwer(a: Awaiting): void {
  owers.add(a);
}

export function unregisterOwer(a: Awaiting): void {
  owers.delete(a);
}

/**
 * An answer is due (work was posted, or a stream opened): poll for it for a window, unless answers there
 * take longer than the window (`expectedMs`): then polling would only burn the window and sleep anyway.
 */
export function answerDue(expectedMs = 0): void {
  if (windowMs <= 0 || expectedMs > windowMs) return;
  // Under load (not alone, not polling) this returns before reading the clock: it runs at every post.
  if (!running) {
    if (!alone()) return;
    running = true;
    setImmediate(tick);
  }
  until = performance.now() + windowMs;
}

/**
 * Polls only while exactly one answer is owed: with more in flight the loop has other work, its wake-ups
 * are shared, and a loop that never blocks would also post executions one by one instead of together.
 */
function alone(): boolean {
  let n = 0;
  for (const a of owers) if ((n += a.awaiting()) > 1) return false;
  return n === 1;
}

function tick(): void {
  if (performance.now() < until && alone()) setImmediate(tick);
  else running = false;
}
