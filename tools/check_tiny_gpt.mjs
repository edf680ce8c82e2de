// Checks models/tiny_gpt (1/model.ts, 1/tokenizer.ts, 1/gpt.onnx) against the fixtures that
// tools/train_tiny_gpt.py writes to tools/tiny_gpt_tokenizer_cases.json:
//   - the TypeScript BPE encoder gives Python's token ids;
//   - gpt.onnx in onnxruntime-node (an empty past, P = 0, then one cached step) gives PyTorch's logits;
//   - greedy streaming is deterministic and equals Python's greedy continuation;
//   - the same seed gives the same sampled text; a tensor input wins over a parameter;
//   - stop strings, long prompts, bad arguments, and an abort after 3 tokens;
//   - and it prints the time per token.
// Run from the repository root (no build needed):  node tools/check_tiny_gpt.mjs

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { tsImport } from 'tsx/esm/api';

const modelDir = new URL('../models/tiny_gpt/', import.meta.url).pathname.replace(/\/$/, '');
const versionDir = `${modelDir}/1`;
const cases = JSON.parse(readFileSync(new URL('./tiny_gpt_tokenizer_cases.json', import.meta.url), 'utf8'));

const modelMod = await tsImport('../models/tiny_gpt/1/model.ts', import.meta.url);
const tokMod = await tsImport('../models/tiny_gpt/1/tokenizer.ts', import.meta.url);
const TinyGpt = modelMod.default?.default ?? modelMod.default;
const { Tokenizer } = tokMod.Tokenizer ? tokMod : tokMod.default;

// A look-alike of api.ts's ModelTensor (BYTES elements: 4-byte little-endian length, then bytes).
const TYPED = { INT32: Int32Array, INT64: BigInt64Array, UINT64: BigUint64Array, FP32: Float32Array };
class Tensor {
  constructor(name, datatype, shape, data) {
    Object.assign(this, { name, datatype, shape, data });
  }
  typed() {
    const T = TYPED[this.datatype];
    return new T(this.data.buffer, this.data.byteOffset, this.data.byteLength / T.BYTES_PER_ELEMENT);
  }
  bytes() {
    const out = [];
    const dv = new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    for (let o = 0; o < this.data.byteLength; ) {
      const n = dv.getUint32(o, true);
      out.push(this.data.subarray(o + 4, o + 4 + n));
      o += 4 + n;
    }
    return out;
  }
  strings() {
    return this.bytes().map((b) => Buffer.from(b).toString('utf8'));
  }
}
const text = (s) => {
  const b = Buffer.from(s, 'utf8');
  const buf = Buffer.alloc(4 + b.length);
  buf.writeUInt32LE(b.length, 0);
  b.copy(buf, 4);
  return new Tensor('text_input', 'BYTES', [1], new Uint8Array(buf));
};
const num = (name, datatype, v) => {
  const a = new TYPED[datatype]([v]);
  return new Tensor(name, datatype, [1], new Uint8Array(a.buffer));
};
const request = (prompt, inputs = {}, parameters = {}) => ({
  id: 'check',
  parameters,
  inputs: Object.fromEntries([text(prompt), ...Object.entries(inputs).map(([k, [dt, v]]) => num(k, dt, v))].map((t) => [t.name, t])),
});

async function run(model, req, { abortAfter } = {}) {
  const ac = new AbortController();
  const pieces = [];
  let last;
  const times = [];
  let t0 = performance.now();
  for await (const r of model.stream(req, ac.signal)) {
    const t = performance.now();
    times.push(t - t0);
    t0 = t;
    assert.equal(r.outputs.length, 1);
    const o = r.outputs[0];
    assert.deepEqual([o.name, o.datatype, o.shape], ['text_output', 'BYTES', [1]]);
    assert.equal(typeof o.data[0], 'string');
    pieces.push(o.data[0]);
    if (last?.parameters) assert.fail('a response came after the one with finish_reason');
    last = r;
    if (abortAfter && pieces.length === abortAfter) ac.abort();
  }
  return { pieces, text: pieces.join(''), params: last?.parameters, times };
}

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n     ${e.message.split('\n').join('\n     ')}`);
  }
}

// --- tokenizer
const tokJson = JSON.parse(readFileSync(`${versionDir}/tokenizer.json`, 'utf8'));
const tok = new Tokenizer(tokJson);
await check(`tokenizer: ${cases.tokenizer.length} strings give Python's ids and decode back`, () => {
  for (const c of cases.tokenizer) {
    assert.deepEqual(tok.encode(c.text), c.ids, JSON.stringify(c.text));
    assert.equal(tok.decode(c.ids), c.text);
  }
  for (const g of cases.greedy) assert.deepEqual([tok.eosId, ...tok.encode(g.prompt)], g.prompt_ids);
  const corpus = 'GNU GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007\n\n Everyone is permitted to copy';
  console.log(`     ${Buffer.byteLength(corpus)} bytes -> ${tok.encode(corpus).length} tokens; vocab ${tok.vocabSize}, eos ${tok.eosId}`);
});

// --- the ONNX graph alone: P = 0 prefill, then one cached decode step
await check('gpt.onnx in onnxruntime-node: empty past (P = 0) and one cached step match PyTorch to 1e-4', async () => {
  const s = await ort.InferenceSession.create(`${versionDir}/gpt.onnx`, { intraOpNumThreads: 1 });
  for (const g of cases.greedy) {
    const ids = g.prompt_ids;
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, ids.length]),
    };
    for (let i = 0; i < 4; i++) {
      feeds[`past_key_${i}`] = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 32]);
      feeds[`past_value_${i}`] = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 32]);
    }
    const out = await s.run(feeds);
    const V = tok.vocabSize;
    const T = ids.length;
    assert.deepEqual(out.logits.dims, [1, T, V]);
    assert.deepEqual(out.present_key_0.dims, [1, 4, T, 32]);
    const diff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    const d1 = diff(out.logits.data.subarray((T - 1) * V), g.first_logits);
    assert.ok(d1 < 1e-4, `prefill logits differ by ${d1}`);
    if (!g.second_logits) continue;
    const f2 = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(g.ids[0])]), [1, 1]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(T)]), [1, 1]),
    };
    for (let i = 0; i < 4; i++) {
      f2[`past_key_${i}`] = out[`present_key_${i}`];
      f2[`past_value_${i}`] = out[`present_value_${i}`];
    }
    const o2 = await s.run(f2);
    assert.deepEqual(o2.present_value_3.dims, [1, 4, T + 1, 32]);
    const d2 = diff(o2.logits.data, g.second_logits);
    assert.ok(d2 < 1e-4, `decode logits differ by ${d2}`);
  }
  await s.release();
});

// --- the model
const model = new TinyGpt();
const config = { name: 'tiny_gpt', backend: 'typescript', max_batch_size: 0 };
await model.initialize({ config, modelName: 'tiny_gpt', version: '1', modelDir, versionDir, instanceName: 'x' });

for (const g of cases.greedy) {
  await check(`greedy ${JSON.stringify(g.prompt)} (${g.max_tokens} tokens) equals Python's and is deterministic`, async () => {
    const a = await run(model, request(g.prompt, { max_tokens: ['INT32', g.max_tokens] }));
    const b = await run(model, request(g.prompt, { max_tokens: ['INT32', g.max_tokens] }));
    assert.equal(a.text, g.text);
    assert.equal(a.params.finish_reason, g.finish_reason);
    assert.equal(a.pieces.length, g.ids.length + (g.finish_reason === 'eos' ? 1 : 0));
    assert.equal(a.params.completion_tokens, a.pieces.length);
    assert.equal(a.params.prompt_tokens, g.prompt_ids.length);
    assert.deepEqual(b.pieces, a.pieces);
    console.log(`     -> ${JSON.stringify(a.text)}`);
  });
}

await check('sampling: the same seed gives the same text; UINT64 input, INT64 input and parameter agree', async () => {
  const opts = { max_tokens: ['INT32', 24], temperature: ['FP32', 0.8], top_k: ['INT32', 40] };
  const a = await run(model, request('This program is', { ...opts, seed: ['UINT64', 42n] }));
  const b = await run(model, request('This program is', { ...opts, seed: ['INT64', 42n] }));
  const c = await run(model, request('This program is', opts, { seed: 42 }));
  const d = await run(model, request('This program is', { ...opts, seed: ['UINT64', 7n] }));
  assert.equal(b.text, a.text);
  assert.equal(c.text, a.text);
  console.log(`     seed 42 -> ${JSON.stringify(a.text)}`);
  console.log(`     seed 7  -> ${JSON.stringify(d.text)}`);
  const e = await run(model, request('This program is', {}, { max_tokens: 24, temperature: 0.8, top_k: 40, seed: '18446744073709551615' }));
  const f = await run(model, request('This program is', { seed: ['UINT64', 18446744073709551615n] }, { max_tokens: 24, temperature: 0.8, top_k: 40 }));
  assert.equal(e.text, f.text);
});

await check('a tensor input wins over a request parameter of the same name', async () => {
  const r = await run(model, request('This program is', { max_tokens: ['INT32', 3] }, { max_tokens: 9 }));
  assert.equal(r.pieces.length, 3);
  const p = await run(model, request('This program is', {}, { max_tokens: 5 }));
  assert.equal(p.pieces.length, 5);
  assert.equal(p.params.finish_reason, 'length');
});

await check('stop strings: the text ends before the first stop string, finish_reason stop', async () => {
  const g = cases.greedy[0];
  const words = g.text.split(/\s+/).filter((w) => w.length >= 3);
  const stop = words[Math.floor(words.length / 2)];
  const want = g.text.slice(0, g.text.indexOf(stop));
  const r = await run(model, request(g.prompt, { max_tokens: ['INT32', g.max_tokens] }, { stop }));
  assert.equal(r.text, want);
  assert.equal(r.params.finish_reason, 'stop');
  const r2 = await run(model, request(g.prompt, { max_tokens: ['INT32', g.max_tokens] }, { stop: JSON.stringify(['zzz-not-there', stop]) }));
  assert.equal(r2.text, want);
  const r3 = await run(model, request(g.prompt, { max_tokens: ['INT32', g.max_tokens] }, { stop: 'zzz-not-there' }));
  assert.equal(r3.text, g.text);
  assert.equal(r3.params.finish_reason, g.finish_reason);
  console.log(`     stop ${JSON.stringify(stop)} -> ${JSON.stringify(r.text)} in ${r.pieces.length} responses`);
});

await check('a prompt longer than the context keeps its last (256 - max_tokens) tokens', async () => {
  const long = readFileSync('/usr/share/common-licenses/BSD', 'utf8');
  assert.ok(tok.encode(long).length > 256);
  const r = await run(model, request(long, { max_tokens: ['INT32', 10] }));
  assert.equal(r.params.prompt_tokens, 246);
  assert.equal(r.pieces.length, 10);
  const r2 = await run(model, request(long, { max_tokens: ['INT32', 255] }), { abortAfter: 2 });
  assert.equal(r2.pieces.length, 2);
});

await check('bad arguments are rejected with clear messages and code INVALID_ARGUMENT', async () => {
  const bad = [
    [{ max_tokens: ['INT32', 0] }, {}, /'max_tokens' must be an integer from 1 to 255/],
    [{ max_tokens: ['INT32', 256] }, {}, /'max_tokens'/],
    [{ temperature: ['FP32', -1] }, {}, /'temperature' must be a finite number >= 0/],
    [{ top_k: ['INT32', -2] }, {}, /'top_k'/],
    [{}, { stop: 7 }, /'stop' must be a string or a JSON array of strings/],
    [{}, { max_tokens: 'many' }, /parameter 'max_tokens' must be a number/],
  ];
  const client = (re) => (e) => re.test(e.message) && e.code === 'INVALID_ARGUMENT';
  for (const [inputs, params, re] of bad) {
    await assert.rejects(run(model, request('hi', inputs, params)), client(re));
  }
  await assert.rejects(run(model, { parameters: {}, inputs: {} }), client(/missing input 'text_input'/));
});

await check('aborting the signal after 3 tokens ends the stream', async () => {
  const r = await run(model, request('This program is free software', { max_tokens: ['INT32', 50] }), { abortAfter: 3 });
  assert.equal(r.pieces.length, 3);
  assert.equal(r.params, undefined);
});

// A scripted stand-in for the ONNX session: each step's logits pick the next id of `script`.
async function scripted(script, req) {
  const real = model.session;
  let i = 0;
  const empty = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 32]);
  model.session = {
    run: async (feeds) => {
      const T = feeds.input_ids.dims[1];
      const logits = new Float32Array(T * tok.vocabSize);
      logits[(T - 1) * tok.vocabSize + script[i++]] = 1;
      const out = { logits: new ort.Tensor('float32', logits, [1, T, tok.vocabSize]) };
      for (let l = 0; l < 4; l++) out[`present_key_${l}`] = out[`present_value_${l}`] = empty;
      return out;
    },
  };
  try {
    return await run(model, req);
  } finally {
    model.session = real;
  }
}
const ids = (s) => [...Buffer.from(s, 'latin1')];

await check('UTF-8: a token ending inside a character yields "" and the character comes with the token that completes it', async () => {
  // é = C3 A9, 日 = E6 97 A5, one byte token each
  const r = await scripted([0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0x61], request('x', { max_tokens: ['INT32', 6] }));
  assert.deepEqual(r.pieces, ['', 'é', '', '', '日', 'a']);
  assert.equal(r.params.finish_reason, 'length');
  const cut = await scripted([0x61, 0xe6, 0x97], request('x', { max_tokens: ['INT32', 3] }));
  assert.deepEqual(cut.pieces, ['a', '', '\ufffd']); // incomplete at the end: U+FFFD
});

await check('stop strings are held back while they may be starting, and cut when found', async () => {
  const stop = { stop: 'END' };
  const a = await scripted(ids('xEND!'), request('x', { max_tokens: ['INT32', 5] }, stop));
  assert.deepEqual(a.pieces, ['x', '', '', '']);
  assert.equal(a.params.finish_reason, 'stop');
  const b = await scripted(ids('xExy'), request('x', { max_tokens: ['INT32', 4] }, stop));
  assert.deepEqual(b.pieces, ['x', '', 'Ex', 'y']);
  assert.equal(b.params.finish_reason, 'length');
  const c = await scripted(ids('xEN'), request('x', { max_tokens: ['INT32', 3] }, stop));
  assert.deepEqual(c.pieces, ['x', '', 'EN']); // held-back text is flushed at the end
  const d = await scripted(ids('ab\nQ: c'), request('x', { max_tokens: ['INT32', 7] }, { stop: '["\\nQ:", "b\\n\\n"]' }));
  assert.deepEqual(d.pieces, ['a', '', '', 'b', '']);
  assert.equal(d.params.finish_reason, 'stop');
});

await check('<|endoftext|> ends the stream with a last response of "" and finish_reason eos', async () => {
  const r = await scripted([0x61, tok.eosId, 0x62], request('x', { max_tokens: ['INT32', 3] }));
  assert.deepEqual(r.pieces, ['a', '']);
  assert.deepEqual(r.params, { finish_reason: 'eos', prompt_tokens: 2, completion_tokens: 2 });
  const h = await scripted([0x61, 0x45, tok.eosId], request('x', { max_tokens: ['INT32', 3] }, { stop: 'END' }));
  assert.deepEqual(h.pieces, ['a', '', 'E']);
});

await check('timing', async () => {
  const n = 128;
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await run(model, request('This program is free software', { max_tokens: ['INT32', n] }, { stop: 'zzz-not-there' })));
  const best = runs.reduce((a, b) => (a.times.slice(1).reduce((x, y) => x + y, 0) < b.times.slice(1).reduce((x, y) => x + y, 0) ? a : b));
  const decode = best.times.slice(1);
  const per = decode.reduce((x, y) => x + y, 0) / decode.length;
  console.log(`     first token (prefill of ${best.params.prompt_tokens} tokens) ${best.times[0].toFixed(2)} ms; then ${per.toFixed(2)} ms/token over ${decode.length} tokens (best of 3, contexts up to ${best.params.prompt_tokens + n})`);
  const long = readFileSync('/usr/share/common-licenses/BSD', 'utf8');
  const t0 = performance.now();
  const r = await run(model, request(long, { max_tokens: ['INT32', 16] }));
  console.log(`     prefill of ${r.params.prompt_tokens} tokens + 16 tokens: ${(performance.now() - t0).toFixed(1)} ms (first token ${r.times[0].toFixed(1)} ms)`);
});

await model.finalize();
console.log(failures ? `${failures} check(s) failed` : 'all tiny_gpt checks passed');
process.exitCode = failures ? 1 : 0;
