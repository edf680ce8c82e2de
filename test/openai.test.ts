// The OpenAI-compatible API (/v1 on the REST port), through the `openai` npm client itself and over
// raw HTTP: models, completions and chat, whole and streamed, usage, errors as the client's typed
// errors, API-key auth, CORS preflights, and cancellation when the client goes away.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError } from 'openai';
import type { RunningServer } from '../src/server.js';
import { baseUrl, MODELS, scratchRepo, startTestServer } from './harness.js';
import { writeOpenAiModels } from './fixtures/openai-models.js';
import { writeTestModels } from './fixtures/streaming-models.js';

let server: RunningServer;
let repo: Awaited<ReturnType<typeof scratchRepo>>;
let client: OpenAI;
let fileSeq = 0;
const LOADED = ['tiny_gpt', 'text_echo', 'text_repeat', 'my_model', 'oa_params', 'oa_ticker', 'oa_template', 'oa_fail', 'renamed_words', 'param_echo'];

before(async () => {
  // Test models in a scratch repository beside the examples (tiny_gpt imports the server's code by relative path).
  repo = await scratchRepo();
  await writeOpenAiModels(repo.dir);
  await writeTestModels(repo.dir);
  server = await startTestServer([repo.dir, MODELS], { modelControlMode: 'explicit', loadModels: LOADED });
  client = new OpenAI({ apiKey: 'unused', baseURL: `${baseUrl(server)}/v1`, maxRetries: 0 });
});
after(async () => {
  await server?.stop();
  await repo?.cleanup();
});

/** What the call rejects with; fails the test if it resolves. */
async function rejection(fn: () => Promise<unknown>): Promise<APIError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof APIError, `expected an APIError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

/** A raw HTTP exchange: status, headers and the whole body as text. */
function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl(server)}${path}`, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const SAMPLED = { temperature: 0.9, top_p: 0.95, seed: 42, max_tokens: 12 };

describe('models', () => {
  test('the list holds the models that generate text, and only those', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(m.owned_by, 'duet');
      assert.equal(typeof m.created, 'number');
      ids.push(m.id);
    }
    for (const id of ['tiny_gpt', 'text_echo', 'text_repeat', 'oa_ticker', 'renamed_words']) assert.ok(ids.includes(id), `${id} listed: ${ids.join(', ')}`);
    for (const id of ['my_model', 'param_echo']) assert.ok(!ids.includes(id), `${id} is not a text model`);
  });

  test('one model by id; a model that does not generate text is NotFoundError', async () => {
    assert.deepEqual((await client.models.retrieve('tiny_gpt')).id, 'tiny_gpt');
    for (const id of ['my_model', 'no_such_model']) {
      const e = await rejection(() => client.models.retrieve(id));
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.param, 'model');
    }
  });
});

describe('completions', () => {
  test('non-streaming: text, finish_reason and usage in tiny_gpt\'s own tokens', async () => {
    const r = await client.completions.create({ model: 'tiny_gpt', prompt: 'Permission is hereby granted', ...SAMPLED });
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
    assert.equal(r.model, 'tiny_gpt');
    assert.equal(r.choices.length, 1);
    const [c] = r.choices;
    assert.equal(c.index, 0);
    assert.ok(c.text.length > 0);
    assert.ok(c.finish_reason === 'length' || c.finish_reason === 'stop');
    const u = r.usage!;
    assert.equal(u.prompt_tokens + u.completion_tokens, u.total_tokens);
    assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= 12, `completion tokens ${u.completion_tokens}`);
    // The prompt as tiny_gpt counts it: its tokens after the <|endoftext|> it puts first, fewer than its bytes.
    assert.ok(u.prompt_tokens > 1 && u.prompt_tokens < 'Permission is hereby granted'.length);
    if (c.finish_reason === 'length') assert.equal(u.completion_tokens, 12);
  });

  test('streamed under a fixed seed, the chunks add up to the non-streamed text and usage', async () => {
    const whole = await client.completions.create({ model: 'tiny_gpt', prompt: 'The Software is provided', ...SAMPLED });
    const stream = await client.completions.create({ model: 'tiny_gpt', prompt: 'The Software is provided', ...SAMPLED, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finishes: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      assert.equal(chunk.id, chunks === 1 ? chunk.id : chunk.id);
      if (chunk.choices.length === 0) {
        usage = chunk.usage;
        continue;
      }
      assert.equal(usage, undefined, 'the usage chunk is the last');
      assert.equal(chunk.usage, null);
      text += chunk.choices[0].text;
      if (chunk.choices[0].finish_reason) finishes.push(chunk.choices[0].finish_reason);
    }
    assert.ok(chunks > 2, 'several chunks');
    assert.equal(text, whole.choices[0].text);
    assert.deepEqual(finishes, [whole.choices[0].finish_reason], 'exactly one chunk has a finish_reason');
    assert.deepEqual(usage, whole.usage);
  });

  test('greedy by default (and with top_p 0): the same prompt gives the same text; a stop string cuts it', async () => {
    const a = await client.completions.create({ model: 'tiny_gpt', prompt: 'Copyright (C)', max_tokens: 16 });
    const b = await client.completions.create({ model: 'tiny_gpt', prompt: 'Copyright (C)', max_tokens: 16 });
    const text = a.choices[0].text;
    assert.equal(b.choices[0].text, text);
    // top_p 0 keeps only the most likely token: sampling at any temperature is then greedy.
    const nucleus = await client.completions.create({ model: 'tiny_gpt', prompt: 'Copyright (C)', max_tokens: 16, temperature: 1.5, top_p: 0, seed: 99 });
    assert.equal(nucleus.choices[0].text, text);
    const cut = text.trim().split(' ')[1] ?? text.trim().slice(1, 3);
    assert.ok(cut && text.includes(cut), `a stop string from ${JSON.stringify(text)}`);
    const s = await client.completions.create({ model: 'tiny_gpt', prompt: 'Copyright (C)', max_tokens: 16, stop: [cut, 'zzzzqq'] });
    assert.equal(s.choices[0].text, text.slice(0, text.indexOf(cut)));
    assert.equal(s.choices[0].finish_reason, 'stop');
  });

  test('text_echo answers its prompt; usage falls back to one token per response and the prompt\'s bytes', async () => {
    const r = await client.completions.create({ model: 'text_echo', prompt: 'héllo' });
    assert.equal(r.choices[0].text, 'héllo');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.deepEqual(r.usage, { prompt_tokens: 6, completion_tokens: 1, total_tokens: 7 });
  });

  test('stop strings end the text of a model that does not implement them itself', async () => {
    const r = await client.completions.create({ model: 'text_repeat', prompt: 'ab', max_tokens: 50, stop: ['ba'] });
    assert.equal(r.choices[0].text, 'a');
    assert.equal(r.choices[0].finish_reason, 'stop');
    const chunks: string[] = [];
    for await (const c of await client.completions.create({ model: 'text_echo', prompt: 'hello world', stop: 'o w', stream: true })) chunks.push(c.choices[0].text);
    assert.equal(chunks.join(''), 'hell');
  });

  test('max_tokens reaches a model under the input its config names (text_repeat: count); reaching it is "length"', async () => {
    const r = await client.completions.create({ model: 'text_repeat', prompt: 'ab', max_tokens: 3 });
    assert.equal(r.choices[0].text, 'ababab');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage!.completion_tokens, 3);
  });

  test('sampling settings reach the model as parameters, max_tokens as its input', async () => {
    // Control characters as stop strings: the model's JSON answer holds them only escaped, so nothing is cut.
    const r = await client.completions.create({ model: 'oa_params', prompt: 'p', temperature: 0.5, top_p: 0.25, seed: 7, stop: ['\u0001', '\u0002'], max_tokens: 5, user: 'someone' });
    const seen = JSON.parse(r.choices[0].text) as { parameters: Record<string, unknown>; inputs: Record<string, unknown[]> };
    assert.deepEqual(seen.inputs, { text_input: ['p'], limit: [5] });
    assert.deepEqual(seen.parameters, { temperature: 0.5, top_p: 0.25, seed: 7, stop: '["\\u0001","\\u0002"]' });
    const one = await client.completions.create({ model: 'oa_params', prompt: 'p', stop: '\u0003' });
    assert.equal((JSON.parse(one.choices[0].text) as { parameters: { stop: string } }).parameters.stop, '\u0003');
  });

  test('a model with renamed text tensors (config parameters) serves completions', async () => {
    const r = await client.completions.create({ model: 'renamed_words', prompt: 'one two three' });
    assert.equal(r.choices[0].text, 'one two three');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage!.completion_tokens, 3);
  });
});

describe('chat completions', () => {
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You write licences.' },
    { role: 'user', content: 'Write one.' },
  ];

  test('non-streaming: one assistant message', async () => {
    const r = await client.chat.completions.create({ model: 'tiny_gpt', messages, ...SAMPLED });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    const [c] = r.choices;
    assert.equal(c.message.role, 'assistant');
    assert.equal(typeof c.message.content, 'string');
    assert.ok(c.finish_reason === 'length' || c.finish_reason === 'stop');
    assert.equal(r.usage!.prompt_tokens + r.usage!.completion_tokens, r.usage!.total_tokens);
  });

  test('streamed: role first, content deltas equal to the non-streamed message, one finish, usage last', async () => {
    const whole = await client.chat.completions.create({ model: 'tiny_gpt', messages, ...SAMPLED });
    const stream = await client.chat.completions.create({ model: 'tiny_gpt', messages, ...SAMPLED, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id));
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.ok(chunks.slice(1).every((c) => c.choices[0]?.delta.role === undefined), 'only the first chunk has the role');
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, whole.usage);
    const finishes = chunks.flatMap((c) => c.choices.map((x) => x.finish_reason).filter((f) => f !== null));
    assert.deepEqual(finishes, [whole.choices[0].finish_reason]);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), whole.choices[0].message.content);
  });

  test('the default chat template lays the messages out as a transcript (text_repeat shows the prompt)', async () => {
    const r = await client.chat.completions.create({ model: 'text_repeat', messages, max_completion_tokens: 1 });
    assert.equal(r.choices[0].message.content, 'system: You write licences.\nuser: Write one.\nassistant:');
  });

  test('a model\'s own chat template and token counts; text parts are joined', async () => {
    const r = await client.chat.completions.create({
      model: 'oa_template',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }, { role: 'assistant', content: 'c' }],
    });
    assert.equal(r.choices[0].message.content, '<chat><user>ab</user><assistant>c</assistant><assistant>');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.deepEqual(r.usage, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });

  test('an error after streaming began reaches the client as an error', async () => {
    const stream = await client.chat.completions.create({ model: 'oa_fail', messages, stream: true });
    const got: string[] = [];
    const e = await rejection(async () => {
      for await (const chunk of stream) got.push(chunk.choices[0]?.delta.content ?? '');
    });
    assert.match(e.message, /broke after two tokens/);
    assert.deepEqual(got, ['one ', 'two ']);
  });
});

describe('bad requests raise the client\'s typed errors', () => {
  const user: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];

  test('an unknown model is NotFoundError with code model_not_found, streaming or not', async () => {
    for (const stream of [false, true]) {
      const e = await rejection(() => client.chat.completions.create({ model: 'no_such_model', messages: user, stream }));
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /no_such_model/);
    }
    const c = await rejection(() => client.completions.create({ model: 'my_model', prompt: 'x' }));
    assert.ok(c instanceof NotFoundError);
  });

  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    ['n=2', () => client.completions.create({ model: 'text_echo', prompt: 'x', n: 2 }), 'n', /n=1/],
    ['temperature out of range', () => client.completions.create({ model: 'text_echo', prompt: 'x', temperature: 5 }), 'temperature', /0 to 2/],
    ['a token-array prompt', () => client.completions.create({ model: 'text_echo', prompt: [1, 2, 3] }), 'prompt', /token arrays/],
    ['two prompts', () => client.completions.create({ model: 'text_echo', prompt: ['a', 'b'] }), 'prompt', /one prompt/],
    ['logprobs', () => client.chat.completions.create({ model: 'text_echo', messages: user, logprobs: true }), 'logprobs', /not supported/],
    ['tools', () => client.chat.completions.create({ model: 'text_echo', messages: user, tools: [{ type: 'function', function: { name: 'f' } }] }), 'tools', /not supported/],
    ['an image part', () => client.chat.completions.create({ model: 'text_echo', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }] }), 'messages[0].content[0]', /only text parts/],
    ['a tool message', () => client.chat.completions.create({ model: 'text_echo', messages: [{ role: 'tool', content: 'x', tool_call_id: 'c' }] }), 'messages[0].role', /must be one of/],
    ['no messages', () => client.chat.completions.create({ model: 'text_echo', messages: [] }), 'messages', /non-empty/],
    ['stream_options without stream', () => client.chat.completions.create({ model: 'text_echo', messages: user, stream_options: { include_usage: true } }), 'stream_options', /only allowed when 'stream'/],
    ['max_tokens 0', () => client.chat.completions.create({ model: 'text_echo', messages: user, max_tokens: 0 }), 'max_tokens', /at least 1/],
    ['five stop strings', () => client.chat.completions.create({ model: 'text_echo', messages: user, stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop', /at most 4/],
    ['an unknown field', () => client.chat.completions.create({ model: 'text_echo', messages: user, frobnicate: 1 } as OpenAI.ChatCompletionCreateParamsNonStreaming), 'frobnicate', /Unrecognized request argument/],
  ];
  for (const [name, call, param, message] of cases) {
    test(`${name}: BadRequestError naming '${param}'`, async () => {
      const e = await rejection(call);
      assert.ok(e instanceof BadRequestError, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, param);
      assert.match(e.message, message);
    });
  }

  test('a value the model refuses is a BadRequestError too (tiny_gpt: max_tokens past its context)', async () => {
    const e = await rejection(() => client.completions.create({ model: 'tiny_gpt', prompt: 'x', max_tokens: 10_000 }));
    assert.ok(e instanceof BadRequestError);
    assert.match(e.message, /max_tokens/);
  });
});

describe('the wire', () => {
  test('SSE framing: text/event-stream, one `data: {json}` event per chunk, then data: [DONE]', async () => {
    const r = await raw('POST', '/v1/completions', { model: 'text_repeat', prompt: 'z', max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.ok(r.text.endsWith('\n\ndata: [DONE]\n\n'));
    const events = r.text.split('\n\n').filter(Boolean);
    assert.ok(events.every((e) => e.startsWith('data: ') && !e.includes('\n')), r.text);
    const json = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: { text: string; finish_reason: string | null }[]; usage: unknown });
    assert.deepEqual(json.map((j) => j.choices[0]?.text), ['z', 'z', 'z', '', undefined]);
    assert.deepEqual(json.map((j) => j.choices[0]?.finish_reason), [null, null, null, 'length', undefined]);
    assert.deepEqual(json.at(-1)!.usage, { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
  });

  test('errors are OpenAI error objects: bad JSON, unknown route, an error before streaming', async () => {
    const bad = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(`${baseUrl(server)}/v1/chat/completions`, { method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      req.end('{"model": ');
    });
    assert.equal(bad.status, 400);
    const body = JSON.parse(bad.text) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.match(String(body.error.message), /not valid JSON/);
    const none = await raw('GET', '/v1/embeddings');
    assert.equal(none.status, 404);
    assert.match((JSON.parse(none.text) as { error: { message: string } }).error.message, /no route for GET \/v1\/embeddings/);
    const early = await raw('POST', '/v1/completions', { model: 'nope', prompt: 'x', stream: true });
    assert.equal(early.status, 404);
    assert.equal(early.headers['content-type'], 'application/json');
    assert.equal((JSON.parse(early.text) as { error: { code: string } }).error.code, 'model_not_found');
  });
});

describe('cancellation', () => {
  const progressFile = () => join(repo.dir, `oa-progress-${++fileSeq}.txt`);
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);

  /** The model's file stops growing, and it saw its signal fire and its stream end. */
  async function assertStopped(file: string): Promise<void> {
    await sleep(150);
    const a = size(file);
    await sleep(300);
    assert.equal(size(file), a, 'the model kept generating after the client went away');
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.ok(lines.includes('aborted'), `the model's signal fired: ${lines.join(' ')}`);
    assert.ok(lines.includes('closed'), `the model's stream ended: ${lines.join(' ')}`);
  }

  test('a streaming client that goes away stops the generation', { timeout: 20_000 }, async () => {
    const file = progressFile();
    const stream = await client.completions.create({ model: 'oa_ticker', prompt: file, stream: true });
    let n = 0;
    // Leaving the loop closes the client's connection.
    for await (const _ of stream) if (++n === 3) break;
    assert.equal(n, 3);
    await assertStopped(file);
  });

  test('a non-streaming client that goes away stops the generation', { timeout: 20_000 }, async () => {
    const file = progressFile();
    const req = http.request(`${baseUrl(server)}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(JSON.stringify({ model: 'oa_ticker', prompt: file }));
    for (let i = 0; i < 100 && size(file) < 8; i++) await sleep(20);
    assert.ok(size(file) >= 8, 'the model started');
    req.destroy();
    await assertStopped(file);
  });
});

describe('with an API key, a restricted inference API and an allowed browser origin', () => {
  let keyed: RunningServer;
  const KEY = 'sk-test-' + Math.random().toString(36).slice(2);
  before(async () => {
    keyed = await startTestServer([repo.dir, MODELS], { apiKey: KEY, httpRestrictedApis: { inference: { header: 'x-team', value: 'llm' } }, corsAllowOrigins: ['https://app.example'], modelControlMode: 'explicit', loadModels: ['text_echo'] });
  });
  after(() => keyed?.stop());
  const at = (apiKey: string, team = 'llm') => new OpenAI({ apiKey, baseURL: `${baseUrl(keyed)}/v1`, maxRetries: 0, defaultHeaders: { 'x-team': team } });

  test('the right key works; a wrong one is AuthenticationError with an OpenAI error body', async () => {
    const r = await at(KEY).completions.create({ model: 'text_echo', prompt: 'ok' });
    assert.equal(r.choices[0].text, 'ok');
    for (const call of [() => at('sk-wrong').completions.create({ model: 'text_echo', prompt: 'x' }), () => at('sk-wrong').models.list()]) {
      const e = await rejection(call);
      assert.ok(e instanceof AuthenticationError);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
    }
  });

  test('completions are the restricted inference API (PermissionDeniedError without its header); the model list is metadata', async () => {
    const e = await rejection(() => at(KEY, 'other').completions.create({ model: 'text_echo', prompt: 'x' }));
    assert.ok(e instanceof PermissionDeniedError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.type, 'permission_error');
    assert.ok((await at(KEY, 'other').models.retrieve('text_echo')).id === 'text_echo');
  });

  test('a CORS preflight for the chat route is answered as for the other REST routes', async () => {
    const res = await fetch(`${baseUrl(keyed)}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /x-team/i, 'the restricted API\'s header may be sent');
    const r = await fetch(`${baseUrl(keyed)}/v1/models`, { headers: { origin: 'https://app.example', authorization: `Bearer ${KEY}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example');
  });
});
