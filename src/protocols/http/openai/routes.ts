// The OpenAI-compatible routes on the REST port -> the methods (src/api/), like every other route:
// GET /v1/models[/{model}] from the repository index and model configs, POST /v1/completions and
// /v1/chat/completions through generate. Translation only; the chat template, tensor names and token
// counts are the data plane's (dataplane/conventions.ts, dataplane/chat.ts).

import type { Api, Methods } from '../../../api/index.js';
import type { CallContext } from '../../../api/context.js';
import { InferenceError } from '../../../core/errors.js';
import { generatesText } from '../../../dataplane/conventions.js';
import type { GenerateChunk } from '../../../dataplane.js';
import { parseJsonBody } from '../codec.js';
import type { HttpReply, RouteInput } from '../routes.js';
import type { HttpMethod, RestRoute, RouteHandler } from '../route-table.js';
import { OpenAiError } from './errors.js';
import { parseChat, parseCompletion, type OpenAiCall } from './request.js';
import { Answer, sseAnswer } from './response.js';

/** When this server started: the `created` of every listed model (Duet keeps no creation date). */
const STARTED = Math.floor(Date.now() / 1000);
const OWNER = 'duet';

/** The OpenAI-compatible routes. */
export function openAiRoutes(): RestRoute[] {
  const route = (method: HttpMethod, path: string, id: string, operation: string, label: string, handle: RouteHandler): RestRoute =>
    ({ method, path, id, operation, label, tag: 'openai', handle });
  return [
    route('GET', '/v1/models', 'openaiListModels', 'ModelMetadata', 'openai_models',
      ({ wrapper: w, methods }, ctx) => w.unary(ctx, () => undefined, (c) => listModels(methods, c), (json) => ({ status: 200, json }))),
    route('GET', '/v1/models/{model}', 'openaiRetrieveModel', 'ModelMetadata', 'openai_models',
      ({ wrapper: w, methods }, ctx, p) => w.unary(ctx, () => decodeSegment(p[0]), (c, name) => {
        textModel(methods, c, name);
        return modelObject(name);
      }, (json) => ({ status: 200, json }))),
    route('POST', '/v1/completions', 'openaiCreateCompletion', 'Generate', 'openai_completions',
      (api, ctx, _p, input) => generate(api, ctx, parse(input, parseCompletion))),
    route('POST', '/v1/chat/completions', 'openaiCreateChatCompletion', 'Generate', 'openai_chat_completions',
      (api, ctx, _p, input) => generate(api, ctx, parse(input, parseChat))),
  ];
}

const modelObject = (id: string) => ({ id, object: 'model', created: STARTED, owned_by: OWNER });

/** A model the OpenAI API can serve: known, ready, and generating text; else 404 as OpenAI says it. */
function textModel(m: Methods, ctx: CallContext, name: string): void {
  const missing = () => new OpenAiError(`The model '${name}' does not exist or does not generate text`, 'model', 'model_not_found', 'NOT_FOUND');
  let ok: boolean;
  try {
    ok = m.ModelReady(ctx, { name }).ready && generatesText(m.ModelConfig(ctx, { name }));
  } catch (e) {
    if (e instanceof InferenceError && e.code === 'NOT_FOUND') throw missing();
    throw e;
  }
  if (!ok) throw missing();
}

async function listModels(m: Methods, ctx: CallContext) {
  const entries = await m.RepositoryIndex(ctx, { ready: true });
  const names = [...new Set(entries.map((e) => e.name))].filter((name) => {
    try {
      return generatesText(m.ModelConfig(ctx, { name }));
    } catch {
      return false; // unloaded since the index was read
    }
  });
  return { object: 'list', data: names.sort().map(modelObject) };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new OpenAiError(`malformed percent-encoding in model id '${s}'`, 'model');
  }
}

function parse(input: RouteInput, parser: (b: unknown) => OpenAiCall): OpenAiCall {
  let body: unknown;
  try {
    body = parseJsonBody(input.body.toString('utf8'));
  } catch (e) {
    throw new OpenAiError(`the request body is not valid JSON: ${(e as Error).message}`, null);
  }
  return parser(body);
}

/** A completion or chat: the whole answer, or server-sent events; both through the wrapper (span, errors). */
async function generate(api: Api, ctx: CallContext, call: OpenAiCall): Promise<HttpReply> {
  const w = api.wrapper;
  const decode = () => {
    textModel(api.methods, ctx, call.model);
    return call;
  };
  const run = (c: CallContext, q: OpenAiCall) => api.methods.Generate(c, q.generate);
  if (!call.stream) {
    return w.unary(ctx, decode, async (c, q) => {
      const answer = new Answer(q);
      for await (const chunk of run(c, q)) answer.add(chunk);
      return answer;
    }, (a) => ({ status: 200, json: a.body() }), call.model);
  }
  const events = w.stream<OpenAiCall, GenerateChunk, GenerateChunk>(ctx, decode, run, (x) => x, call.model);
  const it = events[Symbol.asyncIterator]();
  // The first chunk is awaited here, so an error before streaming starts is a JSON error with its status.
  const first = await it.next();
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    events: sseAnswer(new Answer(call), first, it, call.kind === 'chat'),
  };
}
