import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpcFrame, parseChildCpu, parseH2loadLog, parseH2loadSummary, parseWrkOutput, wrkScript } from './native.js';

const WRK_OUT = `Running 3s test @ http://127.0.0.1:40123/v2/models/my_model/infer
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.61ms    6.20ms  42.34ms   71.00%
    Req/Sec     3.91k   210.00     4.20k    80.00%
  11649 requests in 3.00s, 2.31MB read
Requests/sec:   3882.33
Transfer/sec:    788.60KB
DUET_WRK 11649 3000512 49 14551 42343
`;

test('wrk: the script\'s result line, errors taken out of the successful requests', () => {
  const r = parseWrkOutput(WRK_OUT);
  assert.equal(r.requests, 11600);
  assert.equal(r.errors, 49);
  assert.equal(r.seconds, 3.000512);
  assert.ok(Math.abs(r.rps - 11600 / 3.000512) < 1e-9);
  assert.equal(r.p50us, 14551);
  assert.equal(r.p99us, 42343);
  assert.throws(() => parseWrkOutput('Running 3s test\n  0 requests\n'), /wrk printed no result line/);
});

test('wrk: the Lua script posts the file with the headers and prints the result line', () => {
  const lua = wrkScript('/tmp/dir "x"/body.bin', { 'inference-header-content-length': '123', 'content-type': 'application/octet-stream' });
  assert.match(lua, /io\.open\("\/tmp\/dir \\"x\\"\/body\.bin", "rb"\)/);
  assert.match(lua, /wrk\.method = "POST"/);
  assert.match(lua, /wrk\.headers\["inference-header-content-length"\] = "123"/);
  assert.match(lua, /DUET_WRK %d %d %d %d %d/);
  assert.match(lua, /latency:percentile\(50\), latency:percentile\(99\)/);
});

const H2LOAD_OUT = `starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 3s of main duration for measurements.
Application protocol: h2c

finished in 3.00s, 3731.33 req/s, 520.11KB/s
requests: 11194 total, 11194 started, 11194 done, 11190 succeeded, 3 failed, 1 errored, 0 timeout
status codes: 11194 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.52MB (1598036) total, 77.93KB (79800) headers (space savings 95.33%), 1.29MB (1354474) data
`;

test('h2load: req/s and the requests line', () => {
  assert.deepEqual(parseH2loadSummary(H2LOAD_OUT), { rps: 3731.33, succeeded: 11190, failed: 3, errored: 1 });
  assert.throws(() => parseH2loadSummary('starting benchmark...\n'), /h2load printed no summary/);
});

test('h2load: per-request durations from the log file, sorted', () => {
  const log = '1796163216629380\t200\t3072\n1796163216629380\t200\t1220\n1796163216629381\t0\t2224\n\n';
  assert.deepEqual([...parseH2loadLog(log)], [1220, 2224, 3072]);
  assert.equal(parseH2loadLog('').length, 0);
  assert.throws(() => parseH2loadLog('1796163216629380\t200\n'), /line 1 has no duration/);
});

test('the shell wrapper\'s stat line gives the waited-for child\'s CPU (cutime + cstime)', () => {
  const stderr = 'some wrk noise\nDUET_CHILD_STAT 10125 (sh) S 10068 10019 5497 0 -1 4194304 105 235 0 0 0 1 250 37 20 0 1 0 2233992 2654208 364\n';
  assert.equal(parseChildCpu(stderr), 2.87);
  assert.equal(parseChildCpu('no line here'), null);
});

test('a gRPC message gets the 5-byte prefix: not compressed, big-endian length', () => {
  const f = grpcFrame(new Uint8Array([7, 8, 9]));
  assert.deepEqual([...f], [0, 0, 0, 0, 3, 7, 8, 9]);
  assert.equal(grpcFrame(new Uint8Array(70000)).readUInt32BE(1), 70000);
});
