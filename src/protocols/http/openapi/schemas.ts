// The document's component schemas (JSON Schema 2020-12, as OpenAPI 3.1 uses it): the KServe v2 JSON
// bodies as Duet writes and reads them, and the OpenAI bodies of /v1. Written from the protocols' public
// specs and Duet's encoders (codec.ts, statistics.ts, generate.ts); test/openapi.test.ts checks real
// responses against them.

type Schema = Record<string, unknown>;
export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

const str = { type: 'string' };
const int = { type: 'integer' };
const bool = { type: 'boolean' };
const arrayOf = (items: Schema) => ({ type: 'array', items });
const obj = (properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}) => ({ type: 'object', properties, ...(required.length ? { required } : {}), ...extra });

const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'BF16'];
const duration = obj({ count: int, ns: int }, ['count', 'ns']);

const KSERVE: Record<string, Schema> = {
  Error: obj({ error: { type: 'string', description: 'What went wrong, naming the model, input or field.' } }, ['error']),
  Parameters: {
    type: 'object',
    description: 'Named parameters; values are strings, numbers or booleans (INT64 beyond 2^53 as digit strings).',
    additionalProperties: { type: ['string', 'number', 'boolean'] },
  },
  Datatype: { type: 'string', enum: DATATYPES },
  ServerMetadataResponse: obj({ name: str, version: str, extensions: arrayOf(str) }, ['name', 'version', 'extensions']),
  MetadataTensor: obj({ name: str, datatype: ref('Datatype'), shape: { ...arrayOf(int), description: '-1 for a variable dimension.' } }, ['name', 'datatype', 'shape']),
  ModelMetadataResponse: obj({
    name: str, versions: arrayOf(str), platform: str,
    inputs: arrayOf(ref('MetadataTensor')), outputs: arrayOf(ref('MetadataTensor')),
  }, ['name', 'platform', 'inputs', 'outputs']),
  ModelConfig: {
    ...obj({ name: str, platform: str, backend: str, max_batch_size: int, input: arrayOf({ type: 'object' }), output: arrayOf({ type: 'object' }) }, ['name']),
    description: "The model's configuration in Triton's model_config JSON form (the bare object, not wrapped).",
  },
  TensorData: {
    type: 'array',
    description: 'Row-major elements: numbers, strings for BYTES (and for INT64/UINT64 beyond 2^53), booleans for BOOL.',
    items: { type: ['number', 'string', 'boolean', 'array'] },
  },
  RequestInput: obj({
    name: str, shape: arrayOf(int), datatype: ref('Datatype'),
    parameters: { ...ref('Parameters'), description: "'binary_data_size' when the data follows the JSON header in binary." },
    data: ref('TensorData'),
  }, ['name', 'shape', 'datatype']),
  RequestOutput: obj({ name: str, parameters: { ...ref('Parameters'), description: "'binary_data': true for this output in binary." } }, ['name']),
  InferenceRequest: obj({
    id: str,
    parameters: { ...ref('Parameters'), description: "e.g. 'binary_data_output', 'priority', 'timeout' (µs), 'sequence_id'." },
    inputs: arrayOf(ref('RequestInput')),
    outputs: arrayOf(ref('RequestOutput')),
  }, ['inputs']),
  ResponseOutput: obj({
    name: str, shape: arrayOf(int), datatype: ref('Datatype'),
    parameters: { ...ref('Parameters'), description: "'binary_data_size' when the data follows the JSON header in binary." },
    data: ref('TensorData'),
  }, ['name', 'shape', 'datatype']),
  InferenceResponse: obj({
    model_name: str, model_version: str, id: str, parameters: ref('Parameters'),
    outputs: arrayOf(ref('ResponseOutput')),
  }, ['model_name', 'outputs']),
  BinaryInferenceBody: {
    type: 'string', contentMediaType: 'application/octet-stream',
    description: 'The binary tensor extension: the JSON object (its length in the Inference-Header-Content-Length header), ' +
      'then the bytes of each binary tensor in order, each as long as its binary_data_size parameter.',
  },
  GenerateRequest: {
    type: 'object',
    description: "Triton's generate extension: keys that name the model's inputs (e.g. text_input) become tensors; the rest become parameters (e.g. max_tokens, seed).",
    properties: { id: str, text_input: str, parameters: ref('Parameters') },
    additionalProperties: true,
  },
  GenerateResponse: {
    ...obj({ model_name: str, model_version: str, id: str, text_output: { type: ['string', 'array'] } }, ['model_name']),
    description: "The model's outputs by name (a scalar when one element), then its response parameters.",
    additionalProperties: true,
  },
  GenerateStreamEvents: {
    type: 'string',
    description: "Server-sent events: one 'data: <GenerateResponse JSON>' event per response; an error after the stream began " +
      "is an 'event: error' frame whose data is {\"error\": message, \"code\": code}.",
  },
  ModelStatistics: obj({
    name: str, version: str, last_inference: { ...int, description: 'Milliseconds since the epoch; 0 before the first.' },
    inference_count: int, execution_count: int,
    inference_stats: obj(Object.fromEntries(['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss']
      .map((k) => [k, ref('StatDuration')]))),
    batch_stats: arrayOf(obj({ batch_size: int, compute_input: ref('StatDuration'), compute_infer: ref('StatDuration'), compute_output: ref('StatDuration') }, ['batch_size'])),
    memory_usage: arrayOf({ type: 'object' }),
    response_stats: { type: 'object' },
  }, ['name', 'version', 'inference_count', 'execution_count', 'inference_stats']),
  StatDuration: duration,
  ModelStatisticsResponse: obj({ model_stats: arrayOf(ref('ModelStatistics')) }, ['model_stats']),
  RepositoryIndexRequest: obj({ ready: { ...bool, description: 'true: only the models that are ready.' } }),
  RepositoryIndexResponse: arrayOf(obj({
    name: str, version: str, state: { type: 'string', description: 'e.g. READY, UNAVAILABLE, LOADING, UNLOADING.' }, reason: str,
  }, ['name', 'state'])),
  RepositoryLoadRequest: obj({
    parameters: {
      type: 'object',
      description: "'config': a JSON string of the model config to load with; 'file:<path>': a file's contents, base64, to load with.",
      properties: { config: str },
      additionalProperties: str,
    },
  }),
  RepositoryUnloadRequest: obj({ parameters: ref('Parameters') }),
};

const usage = obj({ prompt_tokens: int, completion_tokens: int, total_tokens: int }, ['prompt_tokens', 'completion_tokens', 'total_tokens']);
const finish = { type: ['string', 'null'], enum: ['stop', 'length', null] };
const stop = { oneOf: [str, arrayOf(str), { type: 'null' }] };
const sampling = {
  max_tokens: { type: ['integer', 'null'], minimum: 1 }, temperature: { type: ['number', 'null'] }, top_p: { type: ['number', 'null'] },
  seed: { type: ['integer', 'null'] }, stop, n: { type: ['integer', 'null'], enum: [1, null] }, user: str, stream: { type: ['boolean', 'null'] },
  stream_options: { type: ['object', 'null'], properties: { include_usage: bool } },
};

const OPENAI: Record<string, Schema> = {
  OpenAIError: obj({
    error: obj({ message: str, type: str, param: { type: ['string', 'null'] }, code: { type: ['string', 'null'] } }, ['message', 'type']),
  }, ['error']),
  OpenAIModel: obj({ id: str, object: { const: 'model' }, created: int, owned_by: str }, ['id', 'object']),
  OpenAIModelList: obj({ object: { const: 'list' }, data: arrayOf(ref('OpenAIModel')) }, ['object', 'data']),
  OpenAIUsage: usage,
  CompletionRequest: obj({ model: str, prompt: { oneOf: [str, arrayOf(str)] }, ...sampling }, ['model', 'prompt'], {
    description: 'Fields not listed here, and values Duet cannot honour (e.g. n > 1), are refused with 400 naming the field.',
  }),
  Completion: obj({
    id: str, object: { const: 'text_completion' }, created: int, model: str,
    choices: arrayOf(obj({ index: int, text: str, finish_reason: finish }, ['index', 'text'])),
    usage: ref('OpenAIUsage'),
  }, ['id', 'object', 'model', 'choices']),
  ChatMessage: obj({ role: { type: 'string', enum: ['system', 'user', 'assistant', 'developer'] }, content: { oneOf: [str, arrayOf({ type: 'object' })] }, name: str }, ['role', 'content']),
  ChatCompletionRequest: obj({ model: str, messages: arrayOf(ref('ChatMessage')), max_completion_tokens: { type: ['integer', 'null'], minimum: 1 }, ...sampling }, ['model', 'messages'], {
    description: 'Fields not listed here, and values Duet cannot honour (e.g. n > 1, tools), are refused with 400 naming the field.',
  }),
  ChatCompletion: obj({
    id: str, object: { const: 'chat.completion' }, created: int, model: str,
    choices: arrayOf(obj({ index: int, message: obj({ role: { const: 'assistant' }, content: { type: ['string', 'null'] } }, ['role']), finish_reason: finish }, ['index', 'message'])),
    usage: ref('OpenAIUsage'),
  }, ['id', 'object', 'model', 'choices']),
  CompletionChunk: obj({
    id: str, object: { const: 'text_completion' }, created: int, model: str,
    choices: arrayOf(obj({ index: int, text: str, finish_reason: finish }, ['index', 'text'])),
    usage: { oneOf: [ref('OpenAIUsage'), { type: 'null' }] },
  }, ['id', 'object', 'model', 'choices']),
  ChatCompletionChunk: obj({
    id: str, object: { const: 'chat.completion.chunk' }, created: int, model: str,
    choices: arrayOf(obj({ index: int, delta: obj({ role: { const: 'assistant' }, content: { type: ['string', 'null'] } }), finish_reason: finish }, ['index', 'delta'])),
    usage: { oneOf: [ref('OpenAIUsage'), { type: 'null' }] },
  }, ['id', 'object', 'model', 'choices']),
  OpenAIStreamEvents: {
    type: 'string',
    description: "Server-sent events: 'data: <CompletionChunk or ChatCompletionChunk JSON>' per chunk (the first chat chunk's delta " +
      "carries the role; exactly one chunk carries a finish_reason; with stream_options.include_usage a last chunk with choices [] and usage), then 'data: [DONE]'. An error after the stream began is one 'data: <OpenAIError JSON>' event.",
  },
};

const CONSOLE: Record<string, Schema> = {
  ConsoleSettings: obj({
    model_control_mode: { type: 'string', description: "Triton's model control mode; load and unload work only in 'explicit'." },
    generate_model: { type: 'string', description: 'The model the chat panel starts on.' },
  }, ['model_control_mode']),
};

export const SCHEMAS = { kserve: KSERVE, openai: OPENAI, console: CONSOLE };
