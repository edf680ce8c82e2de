// Triton's generate extension over REST: .../generate_stream as server-sent events, one
// `data: {...}` frame per response (the frames are made by the route).

import { asInferenceError } from '../../core/errors.js';

/**
 * The SSE body. The first frame was awaited by the caller (so an error before streaming starts is a
 * JSON error); an error later becomes an `event: error` frame.
 */
export async function* sseFrames(first: IteratorResult<string>, rest: AsyncIterator<string>): AsyncIterable<string> {
  try {
    if (first.done) return;
    yield first.value;
    for (;;) {
      const n = await rest.next();
      if (n.done) return;
      yield n.value;
    }
  } catch (e) {
    const err = asInferenceError(e);
    yield `event: error\ndata: ${JSON.stringify({ error: err.message, code: err.code })}\n\n`;
  } finally {
    // Closed early (the client went away): close the response stream too, so the model's
    // stream ends and its slot in the scheduler is released.
    await rest.return?.();
  }
}
