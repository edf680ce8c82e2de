import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from '../../../core/errors.js';
import { OpenAiError } from './errors.js';
import { parseChat, parseCompletion } from './request.js';
import { RouteTable, routeFor } from '../route-table.js';
import { openAiRoutes } from './routes.js';

/** The field a refusal names. */
function refusedField(fn: () => unknown): string | null {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof OpenAiError && e instanceof InferenceError);
    assert.equal(e.code, 'INVALID_ARGUMENT');
    return e.param;
  }
  assert.fail('expected a refusal');
}

test('a completion becomes a generate call; OpenAI\'s default of 16 tokens applies', () => {
  const c = parseCompletion({ model: 'm', prompt: ['hi'], temperature: 0, top_p: 1, seed: -3, stop: 'x', n: 1, user: 'u', logprobs: null, echo: false });
  assert.deepEqual(c, {
    kind: 'completion', model: 'm', stream: false, includeUsage: false, maxTokens: 16,
    generate: { modelName: 'm', text: 'hi', maxTokens: 16, stop: ['x'], parameters: { temperature: 0, top_p: 1, seed: -3 } },
  });
});

test('a chat keeps its messages (text parts joined) and leaves the limit to the model unless given', () => {
  const c = parseChat({ model: 'm', messages: [{ role: 'developer', content: 'd' }, { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], name: 'n' }], stream: true, stream_options: { include_usage: true } });
  assert.equal(c.maxTokens, undefined);
  assert.equal(c.includeUsage, true);
  assert.deepEqual(c.generate.messages, [{ role: 'developer', content: 'd' }, { role: 'user', content: 'ab' }]);
  assert.equal(parseChat({ model: 'm', messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 4 }).maxTokens, 4);
  assert.equal(parseChat({ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 4, max_completion_tokens: 4 }).maxTokens, 4);
});

test('stop strings: a string or a list; empty ones are dropped', () => {
  assert.deepEqual(parseCompletion({ model: 'm', prompt: 'p', stop: ['a', '', 'b'] }).generate.stop, ['a', 'b']);
  assert.equal(parseCompletion({ model: 'm', prompt: 'p', stop: [''] }).generate.stop, undefined);
});

test('refusals name the field at fault', () => {
  const chat = (extra: Record<string, unknown>) => () => parseChat({ model: 'm', messages: [{ role: 'user', content: 'x' }], ...extra });
  assert.equal(refusedField(() => parseChat([])), '');
  assert.equal(refusedField(() => parseCompletion({ prompt: 'x' })), 'model');
  assert.equal(refusedField(() => parseCompletion({ model: 'm', prompt: 'x', best_of: 2 })), 'best_of');
  assert.equal(refusedField(() => parseCompletion({ model: 'm', prompt: 'x', suffix: 'y' })), 'suffix');
  assert.equal(refusedField(() => parseCompletion({ model: 'm', prompt: 'x', seed: 1.5 })), 'seed');
  assert.equal(refusedField(chat({ max_tokens: 3, max_completion_tokens: 4 })), 'max_completion_tokens');
  assert.equal(refusedField(chat({ top_p: 2 })), 'top_p');
  assert.equal(refusedField(chat({ presence_penalty: 0.5 })), 'presence_penalty');
  assert.equal(refusedField(chat({ logit_bias: { 1: 2 } })), 'logit_bias');
  assert.equal(refusedField(chat({ response_format: { type: 'json_object' } })), 'response_format');
  assert.equal(refusedField(chat({ tool_choice: 'auto' })), 'tool_choice');
  assert.equal(refusedField(chat({ stream: 'yes' })), 'stream');
  assert.equal(refusedField(chat({ stream: true, stream_options: { other: 1 } })), 'stream_options.other');
  assert.equal(refusedField(chat({ messages: [{ role: 'user', content: 'x', audio: {} }] })), 'messages[0].audio');
  assert.equal(refusedField(chat({ messages: [{ role: 'user' }] })), 'messages[0].content');
  // The "off" values pass.
  chat({ tools: [], tool_choice: 'none', response_format: { type: 'text' }, presence_penalty: 0, logprobs: false, store: false })();
});

test('each /v1 route names the gRPC method it counts as, and its metrics label', () => {
  const table = new RouteTable().add(...openAiRoutes());
  const cases: [string, string, string | undefined, string | undefined][] = [
    ['GET', '/v1/models', 'ModelMetadata', 'openai_models'],
    ['HEAD', '/v1/models/', 'ModelMetadata', 'openai_models'],
    ['GET', '/v1/models/tiny_gpt', 'ModelMetadata', 'openai_models'],
    ['POST', '/v1/completions', 'Generate', 'openai_completions'],
    ['POST', '/v1/chat/completions/', 'Generate', 'openai_chat_completions'],
    ['GET', '/v1/chat/completions', undefined, undefined],
    ['POST', '/v1/embeddings', undefined, undefined],
  ];
  for (const [m, p, op, label] of cases) {
    const route = routeFor(table.match(p), m);
    assert.equal(route?.operation, op, `${m} ${p}`);
    assert.equal(route?.label, label, `${m} ${p}`);
  }
});
