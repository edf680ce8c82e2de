import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAYLOAD_SUITES, SUITES, clientBound, median, parseGeneratorChoice, parseSuites, roundOrder, summarize, type SuiteRun } from './suites.js';
import { pickGenerator } from './suite-run.js';
import { eluBetween, parseElu } from './elu.js';
import { spliceGenerated, beginMarker, endMarker } from './blocks.js';

test('--suite: default scenarios, lists, all, and clear errors', () => {
  assert.deepEqual(parseSuites(undefined), ['scenarios']);
  assert.deepEqual(parseSuites('transport, image'), ['transport', 'image']);
  assert.deepEqual(parseSuites('all'), [...SUITES]);
  assert.throws(() => parseSuites('transport,grpc'), /unknown suite 'grpc'; the suites are transport, image, streaming, scenarios/);
  assert.throws(() => parseSuites('image,image'), /'image' is given twice/);
  assert.throws(() => parseSuites(' , '), /--suite needs one or more/);
  assert.throws(() => parseSuites('all,image'), /--suite all takes no other names/);
});

test('--load-generator and which generator each protocol gets', () => {
  assert.equal(parseGeneratorChoice(undefined), 'auto');
  assert.throws(() => parseGeneratorChoice('ab'), /--load-generator must be auto, native or duet-client, got 'ab'/);
  const all = () => true;
  const none = () => false;
  assert.equal(pickGenerator('http-json', 'auto', all), 'wrk');
  assert.equal(pickGenerator('grpc', 'auto', all), 'h2load');
  assert.equal(pickGenerator('grpc', 'auto', none), 'duet-client');
  assert.equal(pickGenerator('http-binary', 'duet-client', all), 'duet-client');
  assert.throws(() => pickGenerator('grpc', 'native', none), /'h2load' is not installed \(Debian: nghttp2-client\)/);
  assert.throws(() => pickGenerator('http-binary', 'native', none), /'wrk' is not installed \(Debian: wrk\)/);
});

test('the suites measure what the issue asks for', () => {
  assert.deepEqual(PAYLOAD_SUITES.transport.rows.map((r) => r.label), ['REST JSON c=1', 'REST JSON c=64', 'REST binary c=1', 'REST binary c=64', 'gRPC c=1', 'gRPC 4×16']);
  assert.deepEqual(PAYLOAD_SUITES.image.rows.map((r) => r.label), ['REST binary c=1', 'REST binary c=8', 'gRPC c=1', 'gRPC c=8']);
  for (const r of [...PAYLOAD_SUITES.transport.rows, ...PAYLOAD_SUITES.image.rows]) {
    assert.equal(r.floors[0], r.protocol === 'grpc' ? 'node:http2 gRPC echo' : 'node:http echo');
  }
});

const run = (target: SuiteRun['target'], round: number, rps: number, p50us: number, extra: Partial<SuiteRun> = {}): SuiteRun => ({
  suite: 'transport', row: 'grpc-4x16', label: 'gRPC 4×16', target, generator: 'h2load', protocol: 'grpc', connections: 4, streams: 16,
  round, seconds: 3, requests: rps * 3, errors: 0, rps, p50us, p99us: p50us * 3, clientCpu: 0.5, clientBound: false,
  serverMainUs: target === 'duet' ? 200 : 50, serverAllUs: 300, serverElu: null, computeUs: null, ...extra,
});

test('ratios against the floor of the same round, median and range; p50 differences; flags', () => {
  const runs = [
    run('node:http2 gRPC echo', 1, 20000, 100), run('duet', 1, 4000, 400),
    run('duet', 2, 6000, 300), run('node:http2 gRPC echo', 2, 20000, 120),
    run('duet', 3, 5000, 350, { clientCpu: 0.9, clientBound: true, errors: 2 }), run('node:http2 gRPC echo', 3, 25000, 110),
  ];
  const sums = summarize(runs, () => 'node:http2 gRPC echo');
  const duet = sums.find((s) => s.target === 'duet')!;
  assert.equal(duet.rounds, 3);
  assert.equal(duet.ratio, 0.2); // 0.2, 0.3, 0.2
  assert.equal(duet.ratioMin, 0.2);
  assert.equal(duet.ratioMax, 0.3);
  assert.equal(duet.p50DiffUs, 240); // 300, 180, 240
  assert.equal(duet.rps, 5000);
  assert.equal(duet.serverMainUs, 200);
  assert.equal(duet.clientBound, true);
  assert.equal(duet.errors, 2);
  const floor = sums.find((s) => s.target === 'node:http2 gRPC echo')!;
  assert.equal(floor.ratio, 1);
  assert.equal(floor.p50DiffUs, 0);
});

test('client-bound over 0.8 of a core; median; rounds alternate direction', () => {
  assert.equal(clientBound(0.81), true);
  assert.equal(clientBound(0.8), false);
  assert.equal(clientBound(null), false);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 1), ['a', 'b', 'c']);
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 2), ['c', 'b', 'a']);
});

test('the main thread\'s event-loop utilization from two scrapes', () => {
  const text = (a: number, i: number) => `# HELP duet_main_event_loop_seconds x\n# TYPE duet_main_event_loop_seconds gauge\nduet_main_event_loop_seconds{state="active"} ${a}\nduet_main_event_loop_seconds{state="idle"} ${i}\n`;
  const a = parseElu(text(10, 30))!;
  const b = parseElu(text(13, 31))!;
  assert.deepEqual(a, { activeSeconds: 10, seconds: 40 });
  assert.equal(eluBetween(a, b), 0.75);
  assert.equal(parseElu('duet_requests_total 3\n'), undefined);
  assert.equal(eluBetween(a, undefined), null);
});

test('generated blocks: replaced in place, appended when missing, prose around them kept', () => {
  const doc = `# Benchmarks\n\nHand-written reading.\n\n${beginMarker('transport')}\n\nold table\n\n${endMarker('transport')}\n\nMore prose.\n`;
  const once = spliceGenerated(doc, 'transport', 'new table');
  assert.equal(once, `# Benchmarks\n\nHand-written reading.\n\n${beginMarker('transport')}\n\nnew table\n\n${endMarker('transport')}\n\nMore prose.\n`);
  assert.equal(spliceGenerated(once, 'transport', 'new table'), once);
  const added = spliceGenerated(once, 'image', 'image table');
  assert.ok(added.startsWith(once.trimEnd()) && added.endsWith(`${beginMarker('image')}\n\nimage table\n\n${endMarker('image')}\n`));
  assert.throws(() => spliceGenerated(`${beginMarker('x')}\ntext`, 'x', 'y'), /has no end marker/);
  assert.throws(() => spliceGenerated(`text\n${endMarker('x')}`, 'x', 'y'), /without its begin marker/);
});
