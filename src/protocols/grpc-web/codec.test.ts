import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Base64Groups, frame, modeOf, trailerFrame } from './codec.js';

const decodeAll = (chunks: string[]) => {
  const d = new Base64Groups();
  const out = Buffer.concat(chunks.map((c) => d.push(Buffer.from(c, 'latin1'))));
  d.end();
  return out;
};

test('base64 is decoded in 4-character groups, whatever the chunk boundaries', () => {
  const bytes = Buffer.from('gRPC-Web text mode, any length');
  const b64 = bytes.toString('base64');
  for (let cut = 0; cut <= b64.length; cut++) assert.deepEqual(decodeAll([b64.slice(0, cut), b64.slice(cut)]), bytes);
  assert.deepEqual(decodeAll(b64.split('')), bytes);
});

test('padded segments one after another decode as one body', () => {
  const parts = ['a', 'bc', 'def', 'ghij'].map((s) => Buffer.from(s));
  const body = parts.map((p) => p.toString('base64')).join('');
  assert.equal(body, 'YQ==YmM=ZGVmZ2hpag==');
  assert.deepEqual(decodeAll([body.slice(0, 5), body.slice(5)]), Buffer.concat(parts));
});

test('what is not base64 is refused, naming the problem', () => {
  assert.throws(() => decodeAll(['AAAA', 'A*AA']), /not base64: it holds '\*'/);
  assert.throws(() => decodeAll(['AA\nA']), /the byte 0x0a/);
  assert.throws(() => decodeAll(['A=AA']), /misplaced base64 padding \('A=AA'\)/);
  assert.throws(() => decodeAll(['AAAAAA']), /ends inside a base64 group \('AA'\)/);
});

test('content types map to modes; others are not spoken', () => {
  assert.equal(modeOf('application/grpc-web'), 'binary');
  assert.equal(modeOf('application/grpc-web+proto; charset=utf-8'), 'binary');
  assert.equal(modeOf('Application/GRPC-Web-Text'), 'text');
  assert.equal(modeOf('application/grpc-web-text+proto'), 'text');
  assert.equal(modeOf('application/grpc-web+json'), undefined);
});

test('frames and the trailer frame', () => {
  assert.deepEqual(frame(0, Buffer.from('hi')), Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69]));
  const t = trailerFrame(5, 'no model “x”', { 'x-Extra': 'v' });
  assert.equal(t[0], 0x80);
  assert.equal(t.readUInt32BE(1), t.byteLength - 5);
  assert.equal(t.subarray(5).toString('latin1'), 'grpc-status:5\r\ngrpc-message:no model %E2%80%9Cx%E2%80%9D\r\nx-extra:v\r\n');
});
