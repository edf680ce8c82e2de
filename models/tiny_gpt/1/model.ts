// tiny_gpt: a ~1M-parameter GPT-2-style language model trained on the licence texts Debian ships
// (tools/train_tiny_gpt.py), served as a decoupled model that streams one response per token.
//
// Inputs (tensors, or request parameters of the same names; a tensor wins when both are given):
//   text_input   BYTES [1]   the prompt, UTF-8 (tokenized byte-exactly)
//   max_tokens   INT32 [1]   tokens to generate, 1 .. context-1 (default 16)
//   temperature  FP32  [1]   0 = greedy (default); > 0 samples from softmax(logits / temperature)
//   top_k        INT32 [1]   sample among the k most likely tokens only (default 0 = all)
//   top_p        parameter only: sample among the most likely tokens whose probabilities add up
//                to at least top_p (nucleus sampling; default 1 = all), after top_k
//   seed         UINT64 [1]  (or INT64) seeds the sampler: the same seed gives the same text
//                            (default: a random seed)
//   stop         parameter only: a stop string, or a JSON array of stop strings
// Each response: text_output BYTES [1], the text of that token. The last response also carries
// parameters finish_reason ('length' | 'stop' | 'eos'), prompt_tokens and completion_tokens.
//
// Edge cases:
// - The prompt is preceded by <|endoftext|>, as every document was in training.
// - A token that ends inside a multi-byte UTF-8 character yields '' and its bytes are carried
//   into the next piece; incomplete bytes left at the end become U+FFFD.
// - With stop strings, text that could be the start of a stop string is held back (that token
//   yields '') until it is known not to be; a found stop string is cut off with everything after
//   it, and that response is the last, with finish_reason 'stop'.
// - Generating <|endoftext|> ends the stream with a last response of '' (or of held-back text)
//   and finish_reason 'eos'.
// - A prompt longer than context - max_tokens tokens keeps only its last context - max_tokens
//   tokens (so the total never passes the context of 256).
// - The signal is checked before and after every model step; when it aborts the stream ends
//   at once, without a final response.
// - Bad arguments throw an Error whose `code` is 'INVALID_ARGUMENT' (the runner reports it as a
//   client error), e.g. max_tokens outside 1..255, a negative temperature, a stop that is neither
//   a string nor a JSON array of strings.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type {
  DecoupledModel,
  InitializeArgs,
  ModelRequest,
  ModelResponse,
  ModelTensor,
  Parameters,
} from '../../../src/backends/typescript/api.js';
import { Tokenizer, type TokenizerJson } from './tokenizer.js';

const N_LAYER = 4;
const N_HEAD = 4;
const HEAD_DIM = 32;
const DEFAULT_MAX_TOKENS = 16;
const MAX_STOPS = 16;

interface Options {
  prompt: Uint8Array;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: bigint;
  stops: string[];
}

export default class TinyGpt implements DecoupledModel {
  private session: ort.InferenceSession | undefined;
  private tokenizer!: Tokenizer;
  private context = 256;
  private name = 'tiny_gpt';

  async initialize(args: InitializeArgs): Promise<void> {
    this.name = args.modelName;
    const json = JSON.parse(readFileSync(join(args.versionDir, 'tokenizer.json'), 'utf8')) as TokenizerJson;
    this.tokenizer = new Tokenizer(json);
    this.context = json.context ?? 256;
    this.session = await ort.InferenceSession.create(join(args.versionDir, 'gpt.onnx'), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  }

  async finalize(): Promise<void> {
    await this.session?.release();
    this.session = undefined;
  }

  async *stream(request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelResponse> {
    const session = this.session;
    if (!session) throw Object.assign(new Error(`model '${this.name}' is not initialized`), { code: 'UNAVAILABLE' });
    const opt = this.options(request);
    const tok = this.tokenizer;
    const eos = tok.eosId;
    const V = tok.vocabSize;

    let ids = [eos, ...tok.encodeBytes(opt.prompt)];
    const keep = this.context - opt.maxTokens;
    if (ids.length > keep) ids = ids.slice(ids.length - keep);
    const promptTokens = ids.length;
    const rng = new SplitMix64(opt.seed);
    const decoder = new TextDecoder('utf-8');
    const maxStop = Math.max(0, ...opt.stops.map((s) => s.length));

    let past: ort.Tensor[] = [];
    for (let i = 0; i < 2 * N_LAYER; i++) past.push(new ort.Tensor('float32', new Float32Array(0), [1, N_HEAD, 0, HEAD_DIM]));
    let input = ids;
    let pos = 0;
    let generated = 0;
    let text = ''; // all text generated so far
    let sent = 0; // how much of it has been sent
    const piece = (s: string, finish?: string): ModelResponse => ({
      outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1], data: [s] }],
      ...(finish ? { parameters: { finish_reason: finish, prompt_tokens: promptTokens, completion_tokens: generated } } : {}),
    });

    for (;;) {
      if (signal.aborted) return;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(input, BigInt), [1, input.length]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(input, (_, i) => BigInt(pos + i)), [1, input.length]),
      };
      for (let i = 0; i < N_LAYER; i++) {
        feeds[`past_key_${i}`] = past[2 * i];
        feeds[`past_value_${i}`] = past[2 * i + 1];
      }
      const out = await session.run(feeds);
      if (signal.aborted) return;
      pos += input.length;
      past = [];
      for (let i = 0; i < N_LAYER; i++) past.push(out[`present_key_${i}`], out[`present_value_${i}`]);
      const logits = (out.logits.data as Float32Array).subarray((input.length - 1) * V, input.length * V);
      const next = opt.temperature > 0 ? sample(logits, opt.temperature, opt.topK, opt.topP, rng) : argmax(logits);
      generated++;

      if (next === eos) {
        text += decoder.decode();
        yield piece(text.slice(sent), 'eos');
        return;
      }
      const last = generated >= opt.maxTokens;
      text += decoder.decode(tok.tokenBytes[next], { stream: !last });
      if (maxStop > 0) {
        let at = -1;
        for (const s of opt.stops) {
          const i = text.indexOf(s, sent);
          if (i >= 0 && (at < 0 || i < at)) at = i;
        }
        if (at >= 0) {
          yield piece(text.slice(sent, at), 'stop');
          return;
        }
      }
      if (last) {
        yield piece(text.slice(sent), 'length');
        return;
      }
      const upTo = text.length - heldBack(text, sent, opt.stops, maxStop);
      yield piece(text.slice(sent, upTo));
      sent = upTo;
      input = [next];
    }
  }

  private options(request: ModelRequest): Options {
    const inputs = request.inputs;
    const params: Parameters = request.parameters ?? {};
    const where = `model '${this.name}'`;
    const t = inputs.text_input;
    let prompt: Uint8Array;
    if (t) {
      const els = t.datatype === 'BYTES' ? t.bytes() : [];
      if (els.length !== 1) throw invalid(`${where}: input 'text_input' must be one BYTES element, got ${t.datatype} with shape [${t.shape}]`);
      prompt = els[0];
    } else if (typeof params.text_input === 'string') {
      prompt = Buffer.from(params.text_input, 'utf8');
    } else {
      throw invalid(`${where}: missing input 'text_input' (BYTES [1], the prompt)`);
    }

    const num = (name: string): number | bigint | undefined => {
      const tensor = inputs[name];
      if (tensor) return scalar(tensor, where);
      const p = params[name];
      if (p === undefined) return undefined;
      if (typeof p === 'number' || typeof p === 'bigint') return p;
      if (typeof p === 'string' && p.trim() !== '' && !Number.isNaN(Number(p))) return /^\s*[-+]?\d+\s*$/.test(p) ? BigInt(p) : Number(p);
      throw invalid(`${where}: parameter '${name}' must be a number, got ${JSON.stringify(p)}`);
    };
    const int = (name: string, dflt: number, lo: number, hi: number): number => {
      const v = num(name);
      if (v === undefined) return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < lo || n > hi) throw invalid(`${where}: '${name}' must be an integer from ${lo} to ${hi}, got ${v}`);
      return n;
    };

    const maxTokens = int('max_tokens', DEFAULT_MAX_TOKENS, 1, this.context - 1);
    const topK = int('top_k', 0, 0, this.tokenizer.vocabSize);
    const tv = num('temperature');
    const temperature = tv === undefined ? 0 : Number(tv);
    if (!Number.isFinite(temperature) || temperature < 0) throw invalid(`${where}: 'temperature' must be a finite number >= 0, got ${tv}`);
    const pv = num('top_p');
    const topP = pv === undefined ? 1 : Number(pv);
    if (!(topP >= 0 && topP <= 1)) throw invalid(`${where}: 'top_p' must be a number from 0 to 1, got ${pv}`);
    const sv = num('seed');
    let seed: bigint;
    if (sv === undefined) seed = randomBytes(8).readBigUInt64LE(0);
    else if (typeof sv === 'bigint') seed = BigInt.asUintN(64, sv);
    else if (Number.isSafeInteger(sv)) seed = BigInt.asUintN(64, BigInt(sv));
    else throw invalid(`${where}: 'seed' must be an integer, got ${sv}`);

    return { prompt, maxTokens, temperature, topK, topP, seed, stops: parseStops(params.stop, where) };
  }
}

/** A client error: the server's TypeScript runner maps an Error's `code` to its status table. */
function invalid(message: string): Error {
  return Object.assign(new Error(message), { code: 'INVALID_ARGUMENT' });
}

/** The one element of a numeric input tensor. */
function scalar(t: ModelTensor, where: string): number | bigint {
  if (t.datatype === 'BYTES') {
    const s = t.strings();
    if (s.length === 1 && s[0].trim() !== '' && !Number.isNaN(Number(s[0]))) return Number(s[0]);
  } else if (t.datatype !== 'FP16' && t.datatype !== 'BOOL') {
    const v = t.typed();
    if (v.length === 1) return v[0];
  }
  throw invalid(`${where}: input '${t.name}' must hold one number, got ${t.datatype} with shape [${t.shape}]`);
}

function parseStops(p: unknown, where: string): string[] {
  if (p === undefined) return [];
  let list: unknown = p;
  if (typeof p === 'string') {
    list = [p];
    if (p.trimStart().startsWith('[')) {
      try {
        list = JSON.parse(p);
      } catch {
        // not JSON: the string itself is the stop sequence
      }
    }
  }
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    throw invalid(`${where}: parameter 'stop' must be a string or a JSON array of strings`);
  }
  if (list.length > MAX_STOPS) throw invalid(`${where}: at most ${MAX_STOPS} stop strings, got ${list.length}`);
  return (list as string[]).filter((s) => s.length > 0);
}

/** Length of the longest suffix of text[sent..] that is a proper prefix of a stop string. */
function heldBack(text: string, sent: number, stops: string[], maxStop: number): number {
  for (let n = Math.min(maxStop - 1, text.length - sent); n > 0; n--) {
    const tail = text.slice(text.length - n);
    if (stops.some((s) => s.length > n && s.startsWith(tail))) return n;
  }
  return 0;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Sample from softmax(logits / temperature), among the top k if k > 0, then among the fewest most
 * likely tokens whose probabilities reach top_p if top_p < 1 (ties: lower id first).
 */
function sample(logits: Float32Array, temperature: number, topK: number, topP: number, rng: SplitMix64): number {
  let ids = Array.from(logits.keys());
  const ranked = (topK > 0 && topK < ids.length) || topP < 1;
  if (ranked) ids.sort((a, b) => logits[b] - logits[a] || a - b);
  if (topK > 0 && topK < ids.length) ids = ids.slice(0, topK);
  let max = -Infinity;
  for (const i of ids) if (logits[i] > max) max = logits[i];
  let w = ids.map((i) => Math.exp((logits[i] - max) / temperature));
  let total = 0;
  for (const x of w) total += x;
  if (topP < 1) {
    let kept = 0;
    let mass = 0;
    // At least one token: top_p 0 keeps only the most likely.
    while (kept < w.length && (kept === 0 || mass < topP * total)) mass += w[kept++];
    ids = ids.slice(0, kept);
    w = w.slice(0, kept);
    total = mass;
  }
  let r = rng.uniform() * total;
  for (let j = 0; j < ids.length; j++) {
    r -= w[j];
    if (r < 0) return ids[j];
  }
  return ids[ids.length - 1];
}

/** SplitMix64: a small deterministic PRNG on the full 64-bit seed. */
class SplitMix64 {
  private static readonly MASK = (1n << 64n) - 1n;
  private state: bigint;

  constructor(seed: bigint) {
    this.state = seed & SplitMix64.MASK;
  }

  next(): bigint {
    const M = SplitMix64.MASK;
    this.state = (this.state + 0x9e3779b97f4a7c15n) & M;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return z ^ (z >> 31n);
  }

  /** A double in [0, 1) from the top 53 bits. */
  uniform(): number {
    return Number(this.next() >> 11n) / 2 ** 53;
  }
}
