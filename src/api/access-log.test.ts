import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../core/log.js';
import { accessLog } from './access-log.js';
import type { CallContext } from './context.js';
import { CallWrapper } from './wrapper.js';

const ctx = (facts?: CallContext['facts']): CallContext => ({
  protocol: 'grpc', method: '/inference.GRPCInferenceService/ModelInfer', label: 'ModelInfer',
  signal: new AbortController().signal, header: () => 'secret-header-value', start: performance.now() - 12.5, facts,
});

test('one line per finished call with protocol, method, model, status, bytes and duration', () => {
  const lines: string[] = [];
  const logger = new Logger({ format: 'json', write: (s) => lines.push(s) });
  const w = new CallWrapper({ accessLog: accessLog(logger.log) });
  assert.equal(w.logsAccess, true);
  w.finished(ctx(() => ({ method: '/inference.GRPCInferenceService/ModelInfer', model: 'simple', bytesIn: 120, bytesOut: 64 })), 'OK');
  assert.equal(lines.length, 1);
  const o = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), ['time', 'level', 'msg', 'protocol', 'method', 'model', 'status', 'bytes_in', 'bytes_out', 'duration_ms']);
  assert.deepEqual({ ...o, time: 0, duration_ms: 0 }, {
    time: 0, level: 'info', msg: 'access', protocol: 'grpc', method: '/inference.GRPCInferenceService/ModelInfer', model: 'simple',
    status: 'OK', bytes_in: 120, bytes_out: 64, duration_ms: 0,
  });
  assert.ok((o.duration_ms as number) >= 12, String(o.duration_ms));
  assert.ok(!lines[0].includes('secret-header-value'), 'a header value reached the log');
});

test('a context without facts still gets its line; off, nothing is logged', () => {
  const lines: string[] = [];
  const logger = new Logger({ write: (s) => lines.push(s) });
  new CallWrapper({ accessLog: accessLog(logger.log) }).finished(ctx(), 404);
  assert.match(lines[0], / access protocol=grpc method=\/inference\.GRPCInferenceService\/ModelInfer status=404 duration_ms=\d/);
  const off = new CallWrapper({});
  assert.equal(off.logsAccess, false);
  off.finished(ctx(() => assert.fail('facts read with the access log off')), 200);
  assert.equal(lines.length, 1);
});
