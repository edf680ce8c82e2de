import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessOptions, describeAccess } from './access.js';

describe('access flags', () => {
  test('the key from --api-key (trimmed, wherever it came from) or --api-key-file (trimmed); never both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'duet-key-'));
    try {
      const file = join(dir, 'key');
      await writeFile(file, '  from-file\n');
      assert.equal(accessOptions({ 'api-key-file': file }).apiKey, 'from-file');
      assert.equal(accessOptions({ 'api-key': ' from-env ' }, 'DUET_API_KEY').apiKey, 'from-env');
      assert.equal(accessOptions({}).apiKey, undefined);
      assert.throws(() => accessOptions({ 'api-key': 'a', 'api-key-file': file }), /give --api-key or --api-key-file, not both/);
      assert.throws(() => accessOptions({ 'api-key': 'a', 'api-key-file': file }, 'DUET_API_KEY'), /give --api-key \(here from DUET_API_KEY\) or --api-key-file, not both/);
      await writeFile(file, ' \n');
      assert.throws(() => accessOptions({ 'api-key-file': file }), /API key from --api-key-file .* is empty/);
      assert.throws(() => accessOptions({ 'api-key': '' }, 'DUET_API_KEY'), /DUET_API_KEY is empty/);
      assert.throws(() => accessOptions({ 'api-key-file': join(dir, 'missing') }), /--api-key-file: cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("restricted groups in Triton's format, gRPC with Triton's metadata prefix; origins checked", () => {
    const o = accessOptions({
      'http-restricted-api': ['model-repository:admin=x'],
      'grpc-restricted-protocol': ['model-repository:admin=x'],
      'cors-allow-origin': ['https://app.example'],
    });
    assert.deepEqual(o.httpRestrictedApis, { 'model-repository': { header: 'admin', value: 'x' } });
    assert.deepEqual(o.grpcRestrictedProtocols, { 'model-repository': { header: 'triton-grpc-protocol-admin', value: 'x' } });
    assert.deepEqual(o.corsAllowOrigins, ['https://app.example']);
    assert.throws(() => accessOptions({ 'grpc-restricted-protocol': ['inference:k=v', 'inference:k=w'] }), /--grpc-restricted-protocol: restricted protocol 'inference' can not be in more than one group/);
    assert.throws(() => accessOptions({ 'cors-allow-origin': ['app.example'] }), /--cors-allow-origin/);
  });

  test('the startup lines say what is on and never print a key or a header value', () => {
    const o = accessOptions({ 'api-key': 'sekrit-key', 'http-restricted-api': ['inference,statistics:admin=hidden-value'] });
    const text = describeAccess(o).join('\n');
    assert.match(text, /API key: required on REST, gRPC and metrics/);
    assert.match(text, /restricted REST APIs: inference,statistics need 'admin'/);
    assert.match(text, /cross-origin requests refused/);
    assert.doesNotMatch(text, /sekrit|hidden-value/);
    assert.match(describeAccess(accessOptions({})).join('\n'), /API key: off/);
  });
});
