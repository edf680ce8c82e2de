// Triton's generate extension over REST: POST .../generate (one JSON response) and
// .../generate_stream (server-sent events, one `data: {...}` frame per response).

import { asInferenceError } from '../../core/errors.js';
import { generateResponseJson, jsonText } from '../../core/generate.js';
import type { GenerateChunk } from '../../dataplane.js';

/**
 * SSE frames for a response stream. The first response was awaited by the caller (so an error
 * before streaming starts is a JSON error); an error later becomes an `event: error` frame.
 */
export async function* sseFrames(first: IteratorResult<GenerateChunk>, rest: AsyncIterator<GenerateChunk>): AsyncIterable<string> {
  try {
    if (first.done) return;
    yield `data: ${jsonText(generateResponseJson(first.value.response))}\n\n`;
    for (;;) {
      const n = await rest.next();
      if (n.done) return;
      yield `data: ${jsonText(generateResponseJson(n.value.response))}\n\n`;
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
