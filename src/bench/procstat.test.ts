import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuSeconds, parseStat, serverCpu, usPerRequest } from './procstat.js';

test('/proc stat: utime, stime, cutime, cstime, with a command name holding spaces and parentheses', () => {
  const line = '4242 (node (main) x) S 1 4242 4242 0 -1 4194560 9 0 0 0 1234 56 7 8 20 0 11 0 100 2000000 5000 18446744073709551615\n';
  assert.deepEqual(parseStat(line), { utime: 1234, stime: 56, cutime: 7, cstime: 8 });
  assert.throws(() => parseStat('no parenthesis here'), /not a \/proc stat line/);
  assert.throws(() => parseStat('1 (x) S 1 2 3 4 5 6 7 8 9 10 abc 1 2 3'), /field 14 is 'abc'/);
});

test('µs per request from two CPU samples; null when a sample is missing or nothing was answered', () => {
  assert.equal(usPerRequest(1.5, 2.0, 5000), 100);
  assert.equal(usPerRequest(undefined, 2.0, 5000), null);
  assert.equal(usPerRequest(1.5, 2.0, 0), null);
});

test('this process: the main thread (tid == pid) uses no more CPU than the whole process', () => {
  const s = serverCpu(process.pid)!;
  assert.ok(s && s.main >= 0 && s.main <= s.all + 0.01, JSON.stringify(s));
  assert.equal(cpuSeconds(2 ** 22 + 12345), undefined);
  assert.equal(serverCpu(undefined), undefined);
});
