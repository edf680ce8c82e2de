// Server-sent events from a fetch body: each event's name and its data lines joined.

export interface SseEvent {
  event?: string;
  data: string;
}

/** Events as they complete; a reader that stops early cancels the body (the server sees the connection go). */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let done = false;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) {
        done = true;
        return;
      }
      buf += decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = sseEvent(frame);
        if (ev) yield ev;
      }
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
  }
}

/** One frame (the text between blank lines): its event name and data lines joined; undefined without data. */
export function sseEvent(frame: string): SseEvent | undefined {
  const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
  return data ? { event: /^event: (.*)$/m.exec(frame)?.[1], data } : undefined;
}
