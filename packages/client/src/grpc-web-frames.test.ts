import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from './errors.js';
import { Base64Reader, encodeBase64, encodeFrame, FrameReader, parseTrailers, statusOf, type Frame } from './grpc-web-frames.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const trailerFrame = (text: string) => {
  const f = encodeFrame(bytes(text));
  f[0] = 0x80;
  return f;
};
const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const fails = (code: string, re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === code && re.test(e.message);

/** What a reader makes of `body` cut at the given offsets. */
function readAt(body: Uint8Array, cuts: number[]): Frame[] {
  const r = new FrameReader();
  const out: Frame[] = [];
  let at = 0;
  for (const c of [...cuts, body.byteLength]) {
    out.push(...r.push(body.subarray(at, c)));
    at = c;
  }
  assert.equal(r.pending, 0);
  return out;
}

const BODY = join(encodeFrame(bytes('first')), encodeFrame(new Uint8Array(0)), encodeFrame(bytes('third message')),
  trailerFrame('grpc-status: 0\r\ngrpc-message: \r\n'));

function assertFrames(frames: Frame[]) {
  assert.deepEqual(frames.map((f) => (f.kind === 'message' ? new TextDecoder().decode(f.data) : Object.fromEntries(f.trailers))),
    ['first', '', 'third message', { 'grpc-status': '0', 'grpc-message': '' }]);
}

test('frames come out whole whatever the chunk boundaries: every single cut, mid-prefix included', () => {
  for (let cut = 0; cut <= BODY.byteLength; cut++) assertFrames(readAt(BODY, [cut]));
});

test('frames come out whole from a body delivered one byte at a time', () => {
  assertFrames(readAt(BODY, Array.from({ length: BODY.byteLength }, (_, i) => i)));
});

test('a truncated body leaves bytes pending', () => {
  const r = new FrameReader();
  assert.deepEqual(r.push(BODY.subarray(0, 8)), []);
  assert.equal(r.pending, 8);
});

test('text mode: base64 with each frame encoded on its own (padding mid-body), decoded across any chunking', () => {
  const text = bytes([encodeFrame(bytes('first')), encodeFrame(new Uint8Array(0)), encodeFrame(bytes('third message')),
    trailerFrame('grpc-status: 0\r\ngrpc-message: \r\n')].map(encodeBase64).join(''));
  assert.ok(/=[A-Za-z]/.test(new TextDecoder().decode(text)), 'the test body has padding before its end');
  for (let size = 1; size <= 9; size++) {
    const b64 = new Base64Reader();
    const frames = new FrameReader();
    const out: Frame[] = [];
    for (let i = 0; i < text.byteLength; i += size) out.push(...frames.push(b64.push(text.subarray(i, i + size))));
    assert.equal(b64.pending, 0);
    assertFrames(out);
  }
});

test('text mode: a group cut mid-way stays pending until its last character comes', () => {
  const b64 = new Base64Reader();
  assert.equal(b64.push(bytes('aGk')).byteLength, 0);
  assert.equal(b64.pending, 3);
  assert.deepEqual([...b64.push(bytes('='))], [...bytes('hi')]);
});

test('text mode: characters outside base64 and misplaced padding are refused', () => {
  assert.throws(() => new Base64Reader().push(bytes('ab*d')), fails('INTERNAL', /"\*" is not a base64 character/));
  assert.throws(() => new Base64Reader().push(bytes('ab=d')), fails('INTERNAL', /"=" before its last character/));
});

test('encodeBase64 matches the standard alphabet with padding, with Buffer and without (browsers)', () => {
  const cases = ['', 'a', 'ab', 'abc', 'abcd', '\u00ff\u00fe'].map((s) => [bytes(s), Buffer.from(s).toString('base64')] as const);
  for (const [b, want] of cases) assert.equal(encodeBase64(b), want);
  const g = globalThis as { Buffer?: unknown };
  const saved = g.Buffer;
  g.Buffer = undefined;
  try {
    for (const [b, want] of cases) assert.equal(encodeBase64(b), want);
  } finally {
    g.Buffer = saved;
  }
});

test('the trailer frame: lines as a map, names lower-cased, repeats joined; grpc-message percent-decoded', () => {
  const t = parseTrailers(bytes('grpc-status:5\r\nGrpc-Message: model%20%27x%27 not found%0A\r\nx-a: 1\r\nx-a: 2\r\n'));
  assert.deepEqual(Object.fromEntries(t), { 'grpc-status': '5', 'grpc-message': 'model%20%27x%27 not found%0A', 'x-a': '1, 2' });
  assert.deepEqual(statusOf((n) => t.get(n)), { code: 5, message: "model 'x' not found\n" });
  assert.equal(statusOf(() => null), undefined);
});

test('a malformed trailer is INTERNAL, naming what was wrong', () => {
  assert.throws(() => parseTrailers(bytes('grpc-status 0\r\n')), fails('INTERNAL', /trailer line "grpc-status 0" is not "name: value"/));
  assert.throws(() => parseTrailers(bytes(': 0\r\n')), fails('INTERNAL', /trailer line/));
  assert.throws(() => statusOf(() => 'OK'), fails('INTERNAL', /grpc-status "OK" is not a status code/));
  assert.throws(() => readAt(trailerFrame('nonsense'), []), fails('INTERNAL', /trailer line "nonsense"/));
});

test('a frame after the trailers, a compressed frame, an unknown flag, an oversized message are refused', () => {
  assert.throws(() => readAt(join(trailerFrame('grpc-status: 0'), encodeFrame(bytes('x'))), []), fails('INTERNAL', /data after the trailer frame/));
  const compressed = encodeFrame(bytes('x'));
  compressed[0] = 1;
  assert.throws(() => readAt(compressed, []), fails('INTERNAL', /compressed frame/));
  const odd = encodeFrame(bytes('x'));
  odd[0] = 0x40;
  assert.throws(() => readAt(odd, []), fails('INTERNAL', /unknown frame flag 0x40/));
  // Refused from its prefix alone, before the bytes arrive.
  assert.throws(() => new FrameReader(10).push(encodeFrame(new Uint8Array(11)).subarray(0, 5)),
    fails('RESOURCE_EXHAUSTED', /larger than max \(11 vs\. 10\)/));
});
