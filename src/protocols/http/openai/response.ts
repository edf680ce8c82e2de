// Generate chunks -> OpenAI's completion and chat objects, whole or as server-sent events. Streams:
// content chunks (the first chat chunk carries delta.role), then exactly one chunk with the
// finish_reason and no text, then with stream_options.include_usage a `choices: []` chunk with the
// usage, then `data: [DONE]`. An error after streaming began is one `data: {"error": ...}` event.

import { randomBytes } from 'node:crypto';
import { asInferenceError } from '../../../core/errors.js';
import type { GenerateChunk } from '../../../dataplane.js';
import { openAiErrorBody } from './errors.js';
import type { OpenAiCall } from './request.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What one call's answer shares between its chunks. */
export class Answer {
  readonly id: string;
  readonly created = Math.floor(Date.now() / 1000);
  private text = '';
  private last?: GenerateChunk;

  constructor(readonly call: OpenAiCall) {
    this.id = `${call.kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
  }

  add(c: GenerateChunk): void {
    this.text += c.text;
    this.last = c;
  }

  /** OpenAI has 'stop' and 'length': a model's 'length' stays, any other end (eos, a stop string) is 'stop'. */
  get finishReason(): 'stop' | 'length' {
    const l = this.last;
    if (l?.finishReason !== undefined) return l.finishReason === 'length' ? 'length' : 'stop';
    const max = this.call.maxTokens;
    return max !== undefined && (l?.completionTokens ?? 0) >= max ? 'length' : 'stop';
  }

  get usage(): Usage {
    const prompt = this.last?.promptTokens ?? 0;
    const completion = this.last?.completionTokens ?? 0;
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  }

  private head(object: string) {
    return { id: this.id, object, created: this.created, model: this.call.model };
  }

  /** The whole answer (non-streaming). */
  body(): Record<string, unknown> {
    const finish_reason = this.finishReason;
    if (this.call.kind === 'chat') {
      const message = { role: 'assistant', content: this.text, refusal: null };
      return { ...this.head('chat.completion'), choices: [{ index: 0, message, logprobs: null, finish_reason }], usage: this.usage };
    }
    return { ...this.head('text_completion'), choices: [{ text: this.text, index: 0, logprobs: null, finish_reason }], usage: this.usage };
  }

  /** One streamed chunk: text (and the role on the first chat chunk), or the finish. */
  chunk(text: string, finish: string | null, role = false): string {
    const choice = this.call.kind === 'chat'
      ? { index: 0, delta: finish ? {} : role ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: finish }
      : { text, index: 0, logprobs: null, finish_reason: finish };
    const usage = this.call.includeUsage ? { usage: null } : {};
    return event({ ...this.head(this.call.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'), choices: [choice], ...usage });
  }

  usageChunk(): string {
    return event({ ...this.head(this.call.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'), choices: [], usage: this.usage });
  }
}

const event = (v: unknown) => `data: ${JSON.stringify(v)}\n\n`;

/** The SSE body from the first chunk (already awaited, so an error before it was a JSON error) and the rest. */
export async function* sseAnswer(answer: Answer, first: IteratorResult<GenerateChunk>, rest: AsyncIterator<GenerateChunk>, chat: boolean): AsyncIterable<string> {
  try {
    let n = first;
    let sent = false;
    while (!n.done) {
      answer.add(n.value);
      // Held-back text ('') is not sent, except that a chat's first chunk always goes, with the role.
      if (n.value.text !== '' || (chat && !sent)) {
        yield answer.chunk(n.value.text, null, chat && !sent);
        sent = true;
      }
      n = await rest.next();
    }
    if (chat && !sent) yield answer.chunk('', null, true);
    yield answer.chunk('', answer.finishReason);
    if (answer.call.includeUsage) yield answer.usageChunk();
    yield 'data: [DONE]\n\n';
  } catch (e) {
    const err = asInferenceError(e);
    yield event(openAiErrorBody(err.httpStatus, err.message, err));
  } finally {
    // Closed early (the client went away): the model's stream ends too.
    await rest.return?.();
  }
}
