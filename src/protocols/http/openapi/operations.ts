// What each REST route does, for the OpenAPI document, keyed by `METHOD path` (a model route's
// `/versions/{model_version}` form shares its entry). Error responses are added by document.ts from
// the route's family; only the success answers and the request body are written here.

import { ref } from './schemas.js';

type Schema = Record<string, unknown>;

export interface OperationDoc {
  summary: string;
  description?: string;
  /** Request body content by media type. */
  body?: { required: boolean; content: Record<string, Schema>; description?: string };
  /** Successful (and expected non-error) answers by status. */
  ok: Record<string, { description: string; content?: Record<string, Schema>; headers?: Record<string, Schema> }>;
  /** Error body shape: KServe's {"error": "..."}, OpenAI's error object, or none (a static file). */
  errors: 'kserve' | 'openai' | 'static';
}

const json = (schema: Schema) => ({ 'application/json': { schema } });
const HEADER_LENGTH = {
  description: 'Length of the JSON part of a binary-extension body.',
  schema: { type: 'integer', minimum: 0 },
};
const noBody = (yes: string, no: string) => ({ '200': { description: yes }, '400': { description: no } });
const optionalJson = (schema: string, description?: string) => ({ required: false, content: json(ref(schema)), ...(description ? { description } : {}) });
const sse = (schema: string) => ({ 'text/event-stream': { schema: ref(schema) } });

export const OPERATIONS: Record<string, OperationDoc> = {
  'GET /v2/health/live': { summary: 'Server liveness', description: 'Open without the API key (for probes).', ok: noBody('live', 'not live'), errors: 'kserve' },
  'GET /v2/health/ready': {
    summary: 'Server readiness', description: 'Open without the API key (for probes). Ready when the server can take inferences (and, under strict readiness, every model is ready).',
    ok: noBody('ready', 'not ready'), errors: 'kserve',
  },
  'GET /v2': { summary: 'Server metadata', ok: { '200': { description: 'Name, version and the protocol extensions served.', content: json(ref('ServerMetadataResponse')) } }, errors: 'kserve' },
  'GET /v2/models/stats': {
    summary: 'Statistics of every model', ok: { '200': { description: 'Triton statistics extension.', content: json(ref('ModelStatisticsResponse')) } }, errors: 'kserve',
  },
  'GET /v2/models/{model_name}': {
    summary: 'Model metadata', description: 'Without a version: the version the model policy serves.',
    ok: { '200': { description: "The model's inputs, outputs, platform and versions.", content: json(ref('ModelMetadataResponse')) } }, errors: 'kserve',
  },
  'GET /v2/models/{model_name}/ready': { summary: 'Model readiness', ok: noBody('ready', 'not ready (or unknown)'), errors: 'kserve' },
  'GET /v2/models/{model_name}/config': {
    summary: 'Model configuration', ok: { '200': { description: 'The configuration (Triton model_config as JSON).', content: json(ref('ModelConfig')) } }, errors: 'kserve',
  },
  'GET /v2/models/{model_name}/stats': {
    summary: 'Model statistics', ok: { '200': { description: "The model's (or version's) statistics.", content: json(ref('ModelStatisticsResponse')) } }, errors: 'kserve',
  },
  'POST /v2/models/{model_name}/infer': {
    summary: 'Inference',
    description: 'JSON, or the binary tensor extension: JSON header then raw tensor bytes, the header length in Inference-Header-Content-Length ' +
      '(any or no Content-Type). Binary outputs when asked for (binary_data per output, or binary_data_output); the answer is then ' +
      'application/octet-stream with the same header. Bodies may be gzip or deflate (Content-Encoding); answers are compressed per Accept-Encoding.',
    body: {
      required: true,
      content: { ...json(ref('InferenceRequest')), 'application/octet-stream': { schema: ref('BinaryInferenceBody') } },
    },
    ok: {
      '200': {
        description: 'The outputs.',
        content: { ...json(ref('InferenceResponse')), 'application/octet-stream': { schema: ref('BinaryInferenceBody') } },
        headers: { 'Inference-Header-Content-Length': HEADER_LENGTH },
      },
    },
    errors: 'kserve',
  },
  'POST /v2/models/{model_name}/generate': {
    summary: 'Generate (one response)', description: "Triton's generate extension, for models with text inputs and outputs (e.g. text_input, text_output).",
    body: { required: true, content: json(ref('GenerateRequest')) },
    ok: { '200': { description: "The model's final response, flattened.", content: json(ref('GenerateResponse')) } }, errors: 'kserve',
  },
  'POST /v2/models/{model_name}/generate_stream': {
    summary: 'Generate (streamed)',
    description: "Every response as a server-sent event, as it is produced (Content-Type 'text/event-stream; charset=utf-8'). An error before the first " +
      'response is a JSON error answer; one after it is an error event. Closing the connection cancels the generation.',
    body: { required: true, content: json(ref('GenerateRequest')) },
    ok: { '200': { description: 'The stream of responses.', content: sse('GenerateStreamEvents') } }, errors: 'kserve',
  },
  'POST /v2/repository/index': {
    summary: 'Repository index', description: 'The models in the repository and their states.',
    body: optionalJson('RepositoryIndexRequest', 'Empty, or {"ready": true} for ready models only.'),
    ok: { '200': { description: 'One entry per model (version).', content: json(ref('RepositoryIndexResponse')) } }, errors: 'kserve',
  },
  'POST /v2/repository/models/{model_name}/load': {
    summary: 'Load or reload a model', description: 'Needs --model-control-mode explicit.',
    body: optionalJson('RepositoryLoadRequest'), ok: { '200': { description: 'Loaded.' } }, errors: 'kserve',
  },
  'POST /v2/repository/models/{model_name}/unload': {
    summary: 'Unload a model', description: 'Needs --model-control-mode explicit.',
    body: optionalJson('RepositoryUnloadRequest'), ok: { '200': { description: 'Unloaded.' } }, errors: 'kserve',
  },
  'GET /v2/openapi.json': {
    summary: 'This document', description: 'Open without the API key.',
    ok: { '200': { description: 'OpenAPI 3.1.', content: json({ type: 'object' }) } }, errors: 'kserve',
  },
  'GET /v2/openapi.html': {
    summary: 'This document, readable', description: 'A self-contained HTML rendering (no scripts). Open without the API key.',
    ok: { '200': { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } }, errors: 'kserve',
  },

  // The OpenAI-compatible API: in the document only while its routes are in the table.
  'GET /v1/models': {
    summary: 'List models (OpenAI)', description: 'The models that generate text.',
    ok: { '200': { description: 'The models.', content: json(ref('OpenAIModelList')) } }, errors: 'openai',
  },
  'GET /v1/models/{model}': {
    summary: 'Retrieve a model (OpenAI)', ok: { '200': { description: 'The model.', content: json(ref('OpenAIModel')) } }, errors: 'openai',
  },
  'POST /v1/completions': {
    summary: 'Completions (OpenAI)',
    description: 'Text completion through the model\'s generate; with "stream": true, server-sent events ending in data: [DONE]. Usage counts the model\'s own tokens.',
    body: { required: true, content: json(ref('CompletionRequest')) },
    ok: { '200': { description: 'The completion, or its chunks.', content: { ...json(ref('Completion')), ...sse('OpenAIStreamEvents') } } }, errors: 'openai',
  },
  'POST /v1/chat/completions': {
    summary: 'Chat completions (OpenAI)',
    description: "The messages rendered with the model's chat template, then generated; with \"stream\": true, server-sent events ending in data: [DONE].",
    body: { required: true, content: json(ref('ChatCompletionRequest')) },
    ok: { '200': { description: 'The completion, or its chunks.', content: { ...json(ref('ChatCompletion')), ...sse('OpenAIStreamEvents') } } }, errors: 'openai',
  },

  // The web console's static files: in the document only while the console is on.
  'GET /': {
    summary: 'Web console', description: 'The console page (no API key needed for the files; the console asks for one when the server needs it).',
    ok: { '200': { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } }, '304': { description: 'Not modified (If-None-Match).' } },
    errors: 'kserve',
  },
  'GET /console/assets/{file}': {
    summary: 'Web console files', description: "The console's scripts and styles, named by their content hash (cached for a year). No API key needed.",
    ok: { '200': { description: 'The file, with its content type.', content: { '*/*': { schema: { type: 'string' } } } }, '304': { description: 'Not modified (If-None-Match).' } },
    errors: 'kserve',
  },
  'GET /console/settings': {
    summary: 'Web console settings', description: 'What the console shows: load and unload buttons only when model control allows them.',
    ok: { '200': { description: 'The settings.', content: json(ref('ConsoleSettings')) } }, errors: 'kserve',
  },
};

/** The entry for a route: a versioned model path shares the unversioned one's. */
export function operationDoc(method: string, path: string): OperationDoc | undefined {
  return OPERATIONS[`${method} ${path.replace('/versions/{model_version}', '')}`];
}
