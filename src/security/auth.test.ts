import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceError } from '../core/errors.js';
import { AccessControl, CATEGORIES, categoryOf, operationName, parseRestrictions } from './auth.js';

const headers = (h: Record<string, string>) => (name: string) => h[name];

describe('operations and categories', () => {
  test('gRPC paths name their method; every Health method is one operation', () => {
    assert.equal(operationName('/inference.GRPCInferenceService/ModelInfer'), 'ModelInfer');
    assert.equal(operationName('/grpc.health.v1.Health/Watch'), 'Health');
    assert.equal(operationName('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'), 'ServerReflectionInfo');
    assert.equal(operationName('ModelConfig'), 'ModelConfig');
  });

  test("Triton's groups: ModelReady is health, streams are inference, reflection is in none", () => {
    assert.equal(categoryOf('ModelReady'), 'health');
    assert.equal(categoryOf('/grpc.health.v1.Health/Check'), 'health');
    assert.equal(categoryOf('/inference.GRPCInferenceService/ModelStreamInfer'), 'inference');
    assert.equal(categoryOf('/duet.Generator/Generate'), 'inference');
    assert.equal(categoryOf('/Predictor/Predict'), 'inference');
    assert.equal(categoryOf('RepositoryModelUnload'), 'model-repository');
    assert.equal(categoryOf('CudaSharedMemoryRegister'), 'shared-memory');
    assert.equal(categoryOf('LogSettings'), 'logging');
    assert.equal(categoryOf('TraceSetting'), 'trace');
    assert.equal(categoryOf('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'), undefined);
  });
});

describe('API key', () => {
  const ac = new AccessControl({ apiKey: 'k3y-value' });

  test('the right key passes, in any case of the scheme and with extra blanks', () => {
    for (const v of ['Bearer k3y-value', 'bearer k3y-value', 'BEARER   k3y-value  ']) {
      assert.equal(ac.check('ModelInfer', headers({ authorization: v })), undefined, v);
    }
  });

  test('missing, malformed and wrong keys are UNAUTHENTICATED, and no message holds the key', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /requires an API key.*Authorization: Bearer <key>/],
      [{ authorization: '' }, /requires an API key/],
      [{ authorization: 'k3y-value' }, /must be 'Bearer <key>'/],
      [{ authorization: 'Basic azN5LXZhbHVl' }, /must be 'Bearer <key>'/],
      [{ authorization: 'Bearer ' }, /must be 'Bearer <key>'/],
      [{ authorization: 'Bearer k3y-valu' }, /not valid/],
      [{ authorization: 'Bearer k3y-value-and-more' }, /not valid/],
    ];
    for (const [h, re] of cases) {
      const e = ac.check('ModelMetadata', headers(h));
      assert.ok(e instanceof InferenceError, JSON.stringify(h));
      assert.equal(e.code, 'UNAUTHENTICATED');
      assert.equal(e.httpStatus, 401);
      assert.equal(e.grpcStatus, 16);
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /k3y/);
    }
  });

  test('health live/ready, grpc.health.v1 and public files are exempt; ModelReady and unknown calls are not', () => {
    for (const m of ['ServerLive', 'ServerReady', '/grpc.health.v1.Health/Check', '/grpc.health.v1.Health/Watch', 'PublicFile']) {
      assert.equal(ac.check(m, headers({})), undefined, m);
    }
    for (const m of ['ModelReady', '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', 'GET /nowhere']) {
      assert.equal(ac.check(m, headers({}))?.code, 'UNAUTHENTICATED', m);
    }
  });

  test('checkKey alone (the metrics port), and no key means no check', () => {
    assert.equal(ac.checkKey(headers({}))?.code, 'UNAUTHENTICATED');
    assert.equal(ac.checkKey(headers({ authorization: 'Bearer k3y-value' })), undefined);
    const open = new AccessControl();
    assert.equal(open.enabled, false);
    assert.equal(open.check('RepositoryModelLoad', headers({})), undefined);
    assert.equal(open.checkKey(headers({})), undefined);
  });

  test('an empty key is refused at construction', () => {
    assert.throws(() => new AccessControl({ apiKey: '' }), /must not be empty/);
  });
});

describe('restricted APIs', () => {
  const restrictions = parseRestrictions(['model-repository,statistics:Admin-Key=s:e=cret', 'inference:infer-key=i'], 'http-restricted-api');

  test("Triton's format: split at the first ':' and the first '=' after it; header names lower-cased", () => {
    assert.deepEqual(restrictions, {
      'model-repository': { header: 'admin-key', value: 's:e=cret' },
      statistics: { header: 'admin-key', value: 's:e=cret' },
      inference: { header: 'infer-key', value: 'i' },
    });
    const grpc = parseRestrictions(['health:k=v'], 'grpc-restricted-protocol', 'triton-grpc-protocol-');
    assert.deepEqual(grpc, { health: { header: 'triton-grpc-protocol-k', value: 'v' } });
  });

  test('bad values name the flag and what was wrong', () => {
    const bad: [string[], RegExp][] = [
      [['inference'], /--http-restricted-api format is '<categories>:<header>=<value>', got 'inference'/],
      [['inference:key'], /format is/],
      [['inference:key='], /format is/],
      [[':key=v'], /format is/],
      [['inference:=v'], /format is/],
      [['inference,bogus:key=v'], /unknown restricted API 'bogus'; use health, metadata/],
      [['inference,:key=v'], /unknown restricted API ''/],
      [['inference:key=a', 'metadata,inference:other=b'], /'inference' can not be in more than one group/],
      [['inference:bad key=v'], /'bad key' is not a valid header name/],
    ];
    for (const [args, re] of bad) assert.throws(() => parseRestrictions(args, 'http-restricted-api'), re, args.join(' '));
    assert.throws(() => parseRestrictions(['nope:k=v'], 'grpc-restricted-protocol'), /unknown restricted protocol 'nope'/);
    assert.deepEqual([...CATEGORIES], ['health', 'metadata', 'inference', 'shared-memory', 'model-config', 'model-repository', 'statistics', 'trace', 'logging']);
  });

  test('a restricted category needs its header with its exact value; others pass without it', () => {
    const ac = new AccessControl({ restrictions, restrictedNoun: 'API' });
    assert.equal(ac.enabled, true);
    assert.deepEqual(ac.headerNames, ['admin-key', 'infer-key']);
    for (const h of [{}, { 'admin-key': 'S:E=CRET' }, { 'admin-key': 's:e=cre' }, { 'infer-key': 's:e=cret' }] as Record<string, string>[]) {
      const e = ac.check('RepositoryIndex', headers(h));
      assert.equal(e?.code, 'PERMISSION_DENIED', JSON.stringify(h));
      assert.equal(e?.httpStatus, 403);
      assert.equal(e?.message, "This API is restricted, expecting header 'admin-key'");
    }
    assert.equal(ac.check('ModelStatistics', headers({ 'admin-key': 's:e=cret' })), undefined);
    assert.equal(ac.check('ModelInfer', headers({ 'admin-key': 's:e=cret' }))?.message, "This API is restricted, expecting header 'infer-key'");
    assert.equal(ac.check('ModelInfer', headers({ 'infer-key': 'i' })), undefined);
    // Unrestricted categories, including health, need nothing.
    for (const m of ['ServerMetadata', 'ModelConfig', 'ServerLive', 'ModelReady']) assert.equal(ac.check(m, headers({})), undefined, m);
    const g = new AccessControl({ restrictions: { health: { header: 'triton-grpc-protocol-k', value: 'v' } }, restrictedNoun: 'protocol' });
    assert.equal(g.check('/grpc.health.v1.Health/Check', headers({}))?.message, "This protocol is restricted, expecting header 'triton-grpc-protocol-k'");
  });

  test('the key is checked first; a restricted call then needs both', () => {
    const ac = new AccessControl({ apiKey: 'k', restrictions });
    assert.equal(ac.check('ModelInfer', headers({ 'infer-key': 'i' }))?.code, 'UNAUTHENTICATED');
    assert.equal(ac.check('ModelInfer', headers({ authorization: 'Bearer k' }))?.code, 'PERMISSION_DENIED');
    assert.equal(ac.check('ModelInfer', headers({ authorization: 'Bearer k', 'infer-key': 'i' })), undefined);
  });
});
