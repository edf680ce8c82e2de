// OpenAI request bodies -> the generate call (api/methods.ts). Every field OpenAI defines for these
// routes is either translated, accepted at the one value that means "off", or refused naming the field;
// an unknown field is refused as OpenAI refuses it, so a client never believes a setting took effect.

import type { ChatMessage } from '../../../dataplane/chat.js';
import type { GenerateCall } from '../../../api/methods.js';
import type { Parameters } from '../../../core/tensor.js';
import { badField } from './errors.js';

export type OpenAiKind = 'completion' | 'chat';

export interface OpenAiCall {
  kind: OpenAiKind;
  model: string;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with `choices: []` and the usage. */
  includeUsage: boolean;
  /** The token limit asked for, if any (a finish at it is 'length'). */
  maxTokens?: number;
  generate: GenerateCall;
}

/** OpenAI's default for /v1/completions (chat leaves the limit to the model). */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;
const MAX_STOPS = 4;
const CHAT_ROLES = new Set(['system', 'developer', 'user', 'assistant']);

type Body = Record<string, unknown>;
const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const given = (b: Body, k: string) => b[k] !== undefined && b[k] !== null;

/** A field that may only hold its "off" value: absent, null, or one of `off`. */
function onlyOff(b: Body, k: string, off: unknown[], why: string): void {
  if (!given(b, k)) return;
  const v = b[k];
  if (off.some((o) => (isObject(o) ? isObject(v) && Object.keys(v).length === 0 : o === v))) return;
  throw badField(k, `'${k}' ${why}`);
}

function number(b: Body, k: string, lo: number, hi: number): number | undefined {
  if (!given(b, k)) return undefined;
  const v = b[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw badField(k, `'${k}' must be a number from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  return v;
}

function integer(b: Body, k: string, lo: number): number | undefined {
  if (!given(b, k)) return undefined;
  const v = b[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo) throw badField(k, `'${k}' must be an integer of at least ${lo}, got ${JSON.stringify(v)}`);
  return v;
}

function boolean(b: Body, k: string): boolean {
  if (!given(b, k)) return false;
  if (typeof b[k] !== 'boolean') throw badField(k, `'${k}' must be true or false, got ${JSON.stringify(b[k])}`);
  return b[k] as boolean;
}

function stops(b: Body): string[] | undefined {
  if (!given(b, 'stop')) return undefined;
  const v = b.stop;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw badField('stop', `'stop' must be a string or an array of strings`);
  if (list.length > MAX_STOPS) throw badField('stop', `'stop' holds at most ${MAX_STOPS} strings, got ${list.length}`);
  const kept = (list as string[]).filter((s) => s.length > 0);
  return kept.length === 0 ? undefined : kept;
}

/** Fields both routes read the same way; each key it reads is removed from `rest`. */
function common(b: Body, rest: Set<string>, kind: OpenAiKind) {
  const read = (...ks: string[]) => ks.forEach((k) => rest.delete(k));
  read('model', 'stream', 'stream_options', 'max_tokens', 'temperature', 'top_p', 'seed', 'stop', 'n', 'user',
    'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs');
  if (typeof b.model !== 'string' || b.model === '') throw badField('model', `'model' must be the name of a model (GET /v1/models lists them)`);
  const stream = boolean(b, 'stream');
  let includeUsage = false;
  if (given(b, 'stream_options')) {
    if (!stream) throw badField('stream_options', `'stream_options' is only allowed when 'stream' is true`);
    const o = b.stream_options;
    if (!isObject(o)) throw badField('stream_options', `'stream_options' must be an object`);
    for (const k of Object.keys(o)) {
      if (k !== 'include_usage' && k !== 'include_obfuscation') throw badField(`stream_options.${k}`, `unknown field 'stream_options.${k}'`);
    }
    includeUsage = boolean(o, 'include_usage');
  }
  if (given(b, 'n') && b.n !== 1) throw badField('n', `only n=1 is supported, got ${JSON.stringify(b.n)}`);
  if (given(b, 'user') && typeof b.user !== 'string') throw badField('user', `'user' must be a string`);
  onlyOff(b, 'presence_penalty', [0], 'is not supported (only 0)');
  onlyOff(b, 'frequency_penalty', [0], 'is not supported (only 0)');
  onlyOff(b, 'logit_bias', [{}], 'is not supported (only an empty object)');
  onlyOff(b, 'logprobs', kind === 'chat' ? [false] : [0], 'is not supported');
  const parameters: Parameters = {};
  const temperature = number(b, 'temperature', 0, 2);
  if (temperature !== undefined) parameters.temperature = temperature;
  const topP = number(b, 'top_p', 0, 1);
  if (topP !== undefined) parameters.top_p = topP;
  if (given(b, 'seed')) {
    if (typeof b.seed !== 'number' || !Number.isSafeInteger(b.seed)) throw badField('seed', `'seed' must be an integer, got ${JSON.stringify(b.seed)}`);
    parameters.seed = b.seed;
  }
  return { model: b.model, stream, includeUsage, parameters, stop: stops(b), maxTokens: integer(b, 'max_tokens', 1) };
}

function refuseUnknown(rest: Set<string>): void {
  for (const k of rest) throw badField(k, `Unrecognized request argument supplied: ${k}`);
}

export function parseCompletion(body: unknown): OpenAiCall {
  if (!isObject(body)) throw badField('', 'the request body must be a JSON object');
  const rest = new Set(Object.keys(body));
  const c = common(body, rest, 'completion');
  for (const k of ['prompt', 'echo', 'best_of', 'suffix']) rest.delete(k);
  onlyOff(body, 'echo', [false], 'is not supported');
  onlyOff(body, 'best_of', [1], 'is not supported (only 1)');
  onlyOff(body, 'suffix', [''], 'is not supported');
  refuseUnknown(rest);
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
  if (typeof prompt !== 'string') {
    throw badField('prompt', Array.isArray(prompt) && prompt.every((p) => typeof p === 'string')
      ? `one prompt per request is supported, got ${prompt.length}`
      : `'prompt' must be a string (token arrays are not supported)`);
  }
  const maxTokens = c.maxTokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS;
  return {
    kind: 'completion', model: c.model, stream: c.stream, includeUsage: c.includeUsage, maxTokens,
    generate: { modelName: c.model, text: prompt, maxTokens, stop: c.stop, parameters: c.parameters },
  };
}

function content(v: unknown, at: string): string {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) throw badField(at, `'${at}' must be a string or an array of text parts`);
  return v.map((part, i) => {
    if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') {
      throw badField(`${at}[${i}]`, `only text parts ({"type": "text", "text": "..."}) are supported in '${at}'`);
    }
    return part.text;
  }).join('');
}

function messages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw badField('messages', `'messages' must be a non-empty array`);
  return v.map((m, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) throw badField(at, `'${at}' must be an object`);
    if (typeof m.role !== 'string' || !CHAT_ROLES.has(m.role)) {
      throw badField(`${at}.role`, `'${at}.role' must be one of ${[...CHAT_ROLES].join(', ')}, got ${JSON.stringify(m.role)}`);
    }
    for (const k of Object.keys(m)) {
      if (k === 'role' || k === 'content' || k === 'name') continue;
      if ((k === 'tool_calls' || k === 'refusal' || k === 'function_call') && (m[k] === null || (Array.isArray(m[k]) && (m[k] as unknown[]).length === 0))) continue;
      throw badField(`${at}.${k}`, `'${at}.${k}' is not supported`);
    }
    if (m.name !== undefined && typeof m.name !== 'string') throw badField(`${at}.name`, `'${at}.name' must be a string`);
    return { role: m.role, content: content(m.content ?? (m.role === 'assistant' ? '' : undefined), `${at}.content`) };
  });
}

export function parseChat(body: unknown): OpenAiCall {
  if (!isObject(body)) throw badField('', 'the request body must be a JSON object');
  const rest = new Set(Object.keys(body));
  const c = common(body, rest, 'chat');
  for (const k of ['messages', 'max_completion_tokens', 'top_logprobs', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'store', 'metadata', 'functions', 'function_call']) rest.delete(k);
  onlyOff(body, 'top_logprobs', [0], 'is not supported');
  for (const k of ['tools', 'functions']) {
    if (given(body, k) && !(Array.isArray(body[k]) && (body[k] as unknown[]).length === 0)) throw badField(k, `'${k}' is not supported (no tool calls)`);
  }
  onlyOff(body, 'function_call', ['none'], 'is not supported');
  onlyOff(body, 'tool_choice', ['none'], `is not supported (only "none")`);
  onlyOff(body, 'parallel_tool_calls', [true, false], 'is not supported');
  onlyOff(body, 'store', [false], 'is not supported (nothing is stored)');
  onlyOff(body, 'metadata', [{}], 'is not supported (nothing is stored)');
  if (given(body, 'response_format') && !(isObject(body.response_format) && body.response_format.type === 'text' && Object.keys(body.response_format).length === 1)) {
    throw badField('response_format', `only {"type": "text"} is supported for 'response_format'`);
  }
  refuseUnknown(rest);
  const completionMax = integer(body, 'max_completion_tokens', 1);
  if (completionMax !== undefined && c.maxTokens !== undefined && completionMax !== c.maxTokens) {
    throw badField('max_completion_tokens', `'max_tokens' and 'max_completion_tokens' disagree (${c.maxTokens} and ${completionMax}); give one`);
  }
  const maxTokens = completionMax ?? c.maxTokens;
  return {
    kind: 'chat', model: c.model, stream: c.stream, includeUsage: c.includeUsage, maxTokens,
    generate: { modelName: c.model, messages: messages(body.messages), maxTokens, stop: c.stop, parameters: c.parameters },
  };
}
