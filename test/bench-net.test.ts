// `duet bench --suite connections,hol,fanout,link` at a tiny size: each suite runs end to end, produces
// its table, chart and claim row, and the CLI refuses bad values for their flags. Nothing is timed:
// the checks are on what was measured and reported, not on how fast.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNet } from '../src/bench/net-run.js';
import { connectionsTable, fanoutTable, holTable, linkTable, netCharts, netClaims, netMarkdown } from '../src/bench/net-report.js';
import { NET_SUITES } from '../src/bench/net-setup.js';
import { beginMarker, writeGenerated } from '../src/bench/blocks.js';
import { MODELS } from './harness.js';
import { Cli } from './cli-process.js';

test('connections, hol, fanout and link run at a tiny size and produce their tables, charts and claim rows', async () => {
  const res = await runNet({
    suites: [...NET_SUITES], seconds: 0.2, warmupS: 0, rounds: 1, modelRepository: MODELS,
    fanoutSizes: [20], fanoutRate: 100, holPool: 2, slowMs: 10, holRate: 50,
    links: [{ name: '1 ms / 100 Mbit/s', latencyMs: 1, rateBps: 100e6 }],
  });
  assert.deepEqual(res.meta.notes, []);

  // connections: 2 scenarios × 3 connection kinds × 2 levels, each against its floor.
  const conn = connectionsTable(res);
  assert.equal(conn.rows.length, 2 * 3 * 2 * 2);
  for (const s of res.connections!.summaries) {
    assert.equal(s.errors, 0, s.label);
    assert.ok(s.rps > 0 && Number.isFinite(s.ratio), `${s.label} ${s.target}`);
    assert.ok(s.serverAllUs !== null && s.serverAllUs >= 0, `${s.label} ${s.target}: server CPU read`);
  }
  assert.ok(conn.rows.some((r) => r[0] === 'features: REST, new connection per request (REST JSON), c=16' && r[1] === 'duet'));

  // hol: every connection arrangement with fast requests alone, beside the sleeping model and beside the image.
  assert.equal(holTable(res).rows.length, 9);
  for (const r of res.hol!) {
    assert.equal(r.errors, 0, `${r.mode} ${r.slow}`);
    assert.ok(r.fastCount > 0, `${r.mode} ${r.slow}: fast requests answered`);
    assert.equal(r.slowCount > 0, r.slow !== 'none', `${r.mode} ${r.slow}: slow requests only where asked`);
  }

  // fanout: REST connections and gRPC connections with their floors, gRPC streams; memory per client read.
  const fan = res.fanout!;
  assert.deepEqual(fan.map((r) => `${r.kind}/${r.target}`), ['rest/node:http echo', 'rest/duet', 'grpc-conns/node:http2 gRPC echo', 'grpc-conns/duet', 'grpc-streams/duet']);
  for (const r of fan) {
    assert.equal(r.errors, 0, `${r.kind} ${r.target}: ${r.errorSamples.join('; ')}`);
    assert.ok(r.rssBeforeKiB > 0 && r.rssOpenKiB > 0 && r.requests > 0, `${r.kind} ${r.target}`);
  }
  assert.equal(fan.find((r) => r.kind === 'grpc-streams')!.connections, 4);
  assert.equal(fanoutTable(res).rows.length, 5);

  // link: the loopback and the emulated link, each protocol, bytes counted and the link's time computed.
  const rows = linkTable(res).rows;
  assert.equal(rows.length, 2 * 2 * 3);
  for (const r of res.link!) {
    assert.equal(r.errors, 0);
    assert.ok(r.requests > 0 && r.upBytes > 0 && r.downBytes > 0, `${r.scenario} ${r.link} ${r.protocol}`);
    if (r.link !== 'loopback (no link)') assert.ok(r.transferMs >= 2, 'two one-way latencies at least');
  }

  assert.deepEqual(netClaims(res).map((c) => c.claim.slice(0, 12)), ['REST "opens ', 'one multiple', 'gRPC suits "', 'a 60–80 % sm']);
  assert.deepEqual(netCharts(res).map((c) => c.name), ['connections-cpu', 'connections-p50', 'hol-p99', 'fanout-memory', 'link-features', 'link-image']);
  for (const c of netCharts(res)) assert.match(c.svg, /^<svg[\s\S]*<\/svg>\s*$/);

  const dir = mkdtempSync(join(tmpdir(), 'duet-bench-net-'));
  try {
    const md = join(dir, 'BENCHMARKS.md');
    writeFileSync(md, '# Benchmarks\n\nProse.\n');
    writeGenerated(md, NET_SUITES.map((s) => [s, netMarkdown(res, s, 'docs/bench')!]));
    const text = readFileSync(md, 'utf8');
    assert.match(text, /\| features: REST, keep-alive \(REST JSON\), c=1 \| duet \|/);
    assert.match(text, /\| HTTP\/1\.1, one keep-alive connection \| a model sleeping 10 ms \|/);
    assert.match(text, /\| gRPC, a stream each over 4 connections \| 20 \| duet \|/);
    assert.match(text, /\| image \| 1 ms \/ 100 Mbit\/s \| REST JSON \|/);
    assert.match(text, /!\[[^\]]+\]\(docs\/bench\/link-image\.svg\)/);

    // The blocks, the claims and the charts again from the saved results, nothing measured.
    const json = join(dir, 'suites-net.json');
    writeFileSync(json, JSON.stringify(res, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
    const again = join(dir, 'AGAIN.md');
    const c = new Cli(['bench', '--suite', NET_SUITES.join(','), '--from-results', json, '--markdown', again, '--charts-dir', join(dir, 'charts')]);
    assert.equal((await c.exit(60_000)).code, 0, c.output);
    const md2 = readFileSync(again, 'utf8');
    for (const name of ['claims-net', ...NET_SUITES]) assert.ok(md2.includes(beginMarker(name)), name);
    assert.match(md2, /\| one multiplexed HTTP\/2 connection "handles concurrent calls without head-of-line blocking" \| (holds|does not hold)/);
    assert.ok(readFileSync(join(dir, 'charts', 'fanout-memory.svg'), 'utf8').startsWith('<svg'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('duet bench refuses bad values for the network suites\' flags before measuring anything', async () => {
  const cases: [string[], RegExp][] = [
    [['--suite', 'link', '--links', '10ms'], /--links: '10ms' is not LATENCYms\/RATE\[k\|m\|g\]bit, e.g. 10ms\/100mbit/],
    [['--suite', 'fanout', '--fanout-sizes', '100,0'], /--fanout-sizes must be a positive whole number, got '0'/],
    [['--suite', 'hol', '--hol-pool', 'x'], /--hol-pool must be a positive whole number, got 'x'/],
    [['--suite', 'connections', '--url', '127.0.0.1:1'], /--url goes with the scenarios suite; connections start their own server/],
  ];
  for (const [args, msg] of cases) {
    const c = new Cli(['bench', ...args]);
    assert.equal((await c.exit(60_000)).code, 2, `${args.join(' ')}: ${c.output}`);
    assert.match(c.stderr, msg);
  }
});
