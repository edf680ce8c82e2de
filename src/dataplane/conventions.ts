// Model conventions the data plane owns, so protocol adapters never name models or tensors:
// which tensors carry generate's text, where a finish reason comes from, and the Predictor contract.

import { mapStream } from '../core/iter.js';
import { elementSize } from '../core/datatypes.js';
import { InferenceError, invalidArg } from '../core/errors.js';
import { decodeGenerateBody, type GenerateInputSpec } from '../core/generate.js';
import type { InferRequest, InferResponse } from '../core/infer.js';
import { rawToValues } from '../core/json-tensor.js';
import { decodeStrings, encodeBytes, type Parameters } from '../core/tensor.js';
import type { TraceRecorder } from '../core/trace.js';
import type { ModelConfig } from '../core/model-config.js';
import type { ServedVersion } from '../model-manager.js';
import { chatPrompt, type ChatMessage } from './chat.js';

/**
 * Model config parameters naming the tensors that carry generate's text, e.g.
 * `parameters { key: "generate_text_input" value { string_value: "prompt" } }`; Triton's names are the defaults.
 */
export const TEXT_INPUT_PARAM = 'generate_text_input';
export const TEXT_OUTPUT_PARAM = 'generate_text_output';
export const DEFAULT_TEXT_INPUT = 'text_input';
export const DEFAULT_TEXT_OUTPUT = 'text_output';
/**
 * The config parameter naming where a request's token limit goes (default `max_tokens`): the input of
 * that name when the model has one (e.g. text_repeat's `count`), else a request parameter.
 */
export const MAX_TOKENS_PARAM = 'generate_max_tokens';
export const DEFAULT_MAX_TOKENS_NAME = 'max_tokens';
/** Response parameters in which a model reports its token counts (on its last response). */
export const PROMPT_TOKENS = 'prompt_tokens';
export const COMPLETION_TOKENS = 'completion_tokens';
/** The response parameter a generating model sets on its last response. */
export const FINISH_REASON = 'finish_reason';
/** --generate-model and --predictor-model defaults: the example repository's models. */
export const DEFAULT_GENERATE_MODEL = 'tiny_gpt';
export const DEFAULT_PREDICTOR_MODEL = 'my_model';

/** What every call below a protocol carries besides its payload. */
interface CallScope {
  signal?: AbortSignal;
  deadline?: number;
  trace?: TraceRecorder;
}

export interface GenerateRequest extends CallScope {
  /** Absent or '': the server's generate model. */
  modelName?: string;
  modelVersion?: string;
  id?: string;
  /** The prompt: it becomes the model's text input, and only its text output is asked for. */
  text?: string;
  /** Instead of `text`, Triton's generate JSON: keys naming inputs become tensors, the rest parameters. */
  fields?: Record<string, unknown>;
  /** Instead of `text`, a chat: rendered into the prompt by the model's chat template (chat.ts). */
  messages?: ChatMessage[];
  /** With `text` or `messages`: the most tokens to generate (where it goes: MAX_TOKENS_PARAM). */
  maxTokens?: number;
  /**
   * Stop strings: the model gets them as the parameter `stop` (a string, or a JSON array of strings),
   * and the data plane cuts the text at the first one whether the model did or not (stop.ts).
   */
  stop?: string[];
  parameters?: Parameters;
}

export interface GenerateChunk {
  response: InferResponse;
  /** This response's text output, '' when it has none. */
  text: string;
  /** Set on the model's last response. */
  finishReason?: string;
  /** Token counts, when the model reports them (response parameters prompt_tokens, completion_tokens). */
  promptTokens?: number;
  completionTokens?: number;
}

export interface PredictRequest extends CallScope {
  features: ArrayLike<number>;
}

const param = (sv: ServedVersion, key: string, dflt: string) => sv.config.parameters?.[key]?.string_value || dflt;

/** True when a model takes text in and gives text out by the generate convention (the OpenAI API lists it). */
export function generatesText(config: ModelConfig): boolean {
  const p = (key: string, dflt: string) => config.parameters?.[key]?.string_value || dflt;
  const input = p(TEXT_INPUT_PARAM, DEFAULT_TEXT_INPUT);
  const output = p(TEXT_OUTPUT_PARAM, DEFAULT_TEXT_OUTPUT);
  return config.input.some((i) => i.name === input && i.data_type === 'TYPE_STRING')
    && config.output.some((o) => o.name === output && o.data_type === 'TYPE_STRING');
}

/** What generate made of a request: the infer request, and what reading its responses needs. */
export interface GeneratePlan {
  infer: InferRequest;
  textOutput: string;
  /** The prompt's size in UTF-8 bytes (text and chat only): its token count when the model reports none. */
  promptBytes?: number;
}

export function generateInferRequest(sv: ServedVersion, inputs: GenerateInputSpec[], req: GenerateRequest & { modelName: string }): GeneratePlan {
  const textOutput = param(sv, TEXT_OUTPUT_PARAM, DEFAULT_TEXT_OUTPUT);
  const scope = { signal: req.signal, deadline: req.deadline, trace: req.trace };
  const batched = sv.config.max_batch_size > 0;
  if (req.fields) {
    const infer = decodeGenerateBody(req.fields, inputs, batched, req.modelName, req.modelVersion);
    Object.assign(infer.parameters, req.parameters);
    return { infer: { ...infer, ...scope }, textOutput };
  }
  const textInput = param(sv, TEXT_INPUT_PARAM, DEFAULT_TEXT_INPUT);
  if (!sv.config.input.some((i) => i.name === textInput)) {
    throw invalidArg(`model '${sv.name}' has no text input '${textInput}' to generate from (name it with the config parameter '${TEXT_INPUT_PARAM}')`);
  }
  if (!sv.config.output.some((o) => o.name === textOutput)) {
    throw invalidArg(`model '${sv.name}' has no text output '${textOutput}' to generate into (name it with the config parameter '${TEXT_OUTPUT_PARAM}')`);
  }
  const prompt = Buffer.from(req.messages ? chatPrompt(sv.config, req.messages) : req.text ?? '', 'utf8');
  const infer: InferRequest = {
    modelName: req.modelName,
    modelVersion: req.modelVersion,
    id: req.id,
    inputs: [{ name: textInput, datatype: 'BYTES', shape: batched ? [1, 1] : [1], data: encodeBytes([prompt]) }],
    outputs: [{ name: textOutput }],
    parameters: { ...req.parameters },
    ...scope,
  };
  if (req.maxTokens !== undefined) {
    const key = param(sv, MAX_TOKENS_PARAM, DEFAULT_MAX_TOKENS_NAME);
    // An input of that name gets it as a tensor of the input's type; otherwise it is a parameter.
    if (inputs.some((i) => i.name === key)) infer.inputs.push(...decodeGenerateBody({ [key]: req.maxTokens }, inputs, batched, req.modelName).inputs);
    else infer.parameters[key] = req.maxTokens;
  }
  if (req.stop?.length) infer.parameters.stop = req.stop.length === 1 ? req.stop[0] : JSON.stringify(req.stop);
  return { infer, textOutput, promptBytes: prompt.byteLength };
}

/**
 * Each response with its text, finish reason and token counts: the model's own when it reports them,
 * else one token per response so far and the prompt's UTF-8 bytes (when `promptBytes` is known).
 */
export function generateChunks(responses: AsyncIterable<InferResponse>, textOutput: string, promptBytes?: number): AsyncIterable<GenerateChunk> {
  let seen = 0;
  return mapStream(() => responses, (response) => {
    const out = response.outputs.find((o) => o.name === textOutput);
    const p = response.parameters;
    const reason = p?.[FINISH_REASON];
    seen++;
    return {
      response,
      text: out ? decodeStrings(out.data).join('') : '',
      finishReason: reason === undefined ? undefined : String(reason),
      promptTokens: p?.[PROMPT_TOKENS] !== undefined ? Number(p[PROMPT_TOKENS]) : promptBytes,
      completionTokens: p?.[COMPLETION_TOKENS] !== undefined ? Number(p[COMPLETION_TOKENS]) : seen,
    };
  });
}

/** The features as FP32 [1, N] (or [N] without batching) in the predictor model's first input. */
export function predictRequest(sv: ServedVersion, req: PredictRequest): InferRequest {
  const input = sv.config.input[0];
  if (!input) throw new InferenceError('FAILED_PRECONDITION', `predictor model '${sv.name}' has no inputs`);
  const features = Float32Array.from(req.features);
  const shape = sv.config.max_batch_size > 0 ? [1, features.length] : [features.length];
  return {
    modelName: sv.name,
    modelVersion: sv.version,
    inputs: [{ name: input.name, datatype: 'FP32', shape, data: new Uint8Array(features.buffer) }],
    parameters: {},
    signal: req.signal,
    deadline: req.deadline,
    trace: req.trace,
  };
}

/** The first element of the first output. */
export function predictScore(model: string, res: InferResponse): number {
  const out = res.outputs[0];
  if (!out || out.datatype === 'BYTES' || out.data.byteLength === 0) {
    throw new InferenceError('FAILED_PRECONDITION', `predictor model '${model}' did not produce a numeric first output`);
  }
  return Number(rawToValues(out.datatype, out.data.subarray(0, elementSize(out.datatype)))[0]);
}
