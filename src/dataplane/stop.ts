// Stop strings applied to any generating model's text, so a model that does not implement `stop` itself
// (text_echo, text_repeat, most user models) still ends where the client asked. Text that could be the
// start of a stop string is held back until it is known not to be; a found stop string is cut off with
// everything after it, that chunk is the last (finish reason 'stop'), and leaving the loop closes the
// model's stream, which cancels its work. A model that stops by itself (tiny_gpt) is unaffected.

import type { GenerateChunk } from './conventions.js';

/** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
function heldBack(text: string, stops: string[], longest: number): number {
  for (let n = Math.min(longest - 1, text.length); n > 0; n--) {
    const tail = text.slice(text.length - n);
    if (stops.some((s) => s.length > n && s.startsWith(tail))) return n;
  }
  return 0;
}

export async function* stopAt(chunks: AsyncIterable<GenerateChunk>, stops: string[]): AsyncIterable<GenerateChunk> {
  const longest = Math.max(...stops.map((s) => s.length));
  let pending = '';
  let last: GenerateChunk | undefined;
  for await (const c of chunks) {
    last = c;
    const text = pending + c.text;
    let at = -1;
    for (const s of stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (at >= 0) {
      yield { ...c, text: text.slice(0, at), finishReason: 'stop' };
      return;
    }
    // The model's last chunk gives up what was held back.
    const hold = c.finishReason === undefined ? heldBack(text, stops, longest) : 0;
    pending = text.slice(text.length - hold);
    yield { ...c, text: text.slice(0, text.length - hold) };
  }
  if (pending && last) yield { ...last, text: pending };
}
