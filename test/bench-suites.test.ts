// `duet bench --suite`: the suites run end to end with the bench's own client (no wrk or h2load
// needed), every row against its floors, and the CLI refuses bad suite flags. Nothing is timed:
// the checks are on what was measured and reported, not on how fast.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLabel, runSuites } from '../src/bench/suite-run.js';
import { suiteMarkdown, suitesTerminalReport } from '../src/bench/suite-report.js';
import { beginMarker, writeGenerated } from '../src/bench/blocks.js';
import { PAYLOAD_SUITES } from '../src/bench/suites.js';
import { MODELS, ROOT } from './harness.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

test('transport and streaming suites with the bench\'s own client: each row has its floors, another build (--compare) and Duet, ratios, server CPU per request; Markdown blocks keep the prose', async () => {
  const res = await runSuites({
    suites: ['transport', 'streaming'], seconds: 0.2, warmupS: 0, rounds: 1, generator: 'duet-client',
    modelRepository: MODELS, tokens: 3, generations: 1, streamWarmupS: 0.05, compare: [ROOT],
  });
  const other = buildLabel(ROOT);
  assert.match(other, /^duet@\w+/);
  assert.deepEqual(res.meta.notes, []);
  for (const row of PAYLOAD_SUITES.transport.rows) {
    // Each protocol's floor with Duet's thread hop and nothing else.
    assert.ok(row.floors.includes(row.protocol === 'grpc' ? 'node:http2 + worker hop' : 'node:http + worker hop'), row.label);
    for (const target of [...row.floors, other, 'duet']) {
      const s = res.summaries.find((x) => x.row === row.id && x.target === target);
      assert.ok(s, `${row.label} ${target}`);
      assert.equal(s.generator, 'duet-client');
      assert.equal(s.errors, 0, `${row.label} ${target}`);
      assert.ok(s.rps > 0 && Number.isFinite(s.ratio) && Number.isFinite(s.p50DiffUs), `${row.label} ${target}: ${JSON.stringify(s)}`);
      // Read from /proc in 10 ms ticks, and the two counters a moment apart: over a short run only their presence is certain.
      assert.ok(s.serverMainUs !== null && s.serverMainUs >= 0 && s.serverAllUs !== null && s.serverAllUs >= 0, `${row.label} ${target}: main ${s.serverMainUs}, all ${s.serverAllUs}`);
      if (!(row.floors as string[]).includes(target)) assert.ok(s.serverElu >= 0 && s.serverElu <= 1 && s.computeUs > 0, `ELU ${s.serverElu}, compute ${s.computeUs} µs`);
      if (target === row.floors[0]) assert.equal(s.ratio, 1);
    }
  }
  const st = res.streaming!;
  assert.deepEqual(st.runs.map((r) => `${r.path}/${r.streams}`), [
    'in-process/1', 'node:http2 floor (one message)/1', 'node:http floor (one SSE event)/1',
    'node:http2 + worker hop, busy as in-process/1', 'node:http + worker hop, busy as in-process/1', 'gRPC ModelStreamInfer/1',
    'gRPC ModelStreamInfer, grpc-js client/1', 'REST SSE generate_stream/1', 'REST SSE generate_stream, fetch client/1',
    'in-process/64', 'gRPC ModelStreamInfer/64', 'gRPC ModelStreamInfer, grpc-js client/64', 'REST SSE generate_stream/64',
    'REST SSE generate_stream, fetch client/64',
  ]);
  for (const r of st.runs) {
    // The bare floors answer one message (or event) per generation (Duet's first token); the busy ones
    // stream as many as the in-process generation gave.
    const floor = / floor |worker hop/.test(r.path);
    const oneMessage = / floor /.test(r.path) && !r.path.includes('busy');
    assert.equal(r.tokens, oneMessage ? r.streams : r.streams * 3, `${r.path} ${r.streams}`);
    assert.ok(r.maxGapMs > 0 && r.ttft.count === r.streams);
    assert.equal(r.serverMainUsPerToken === null, r.path === 'in-process' || floor);
  }
  // The busy floors' worker spins as long as the in-process first token took, so they answer no sooner.
  const inProcess = st.runs[0].ttft.p50;
  // (Their later tokens may come closer together than the worker's spin: a first token delayed by a wake-up
  // shortens the gap after it.)
  for (const r of st.runs.filter((x) => x.path.includes('busy as in-process'))) assert.ok(r.ttft.p50 >= inProcess - 0.001, `${r.path}: ${r.ttft.p50} ms < ${inProcess} ms`);
  assert.match(suiteMarkdown(res, 'streaming')!, /gRPC ModelStreamInfer: first token [+-][\d.]+ ms over in-process \(p50; target ≤ 1 ms\), of which [\d.]+ ms is the node:http2 floor's round trip \([+-][\d.]+ ms beyond it\); node:http2 with a worker hop busy as long adds [+-][\d.]+ ms \([+-][\d.]+ ms beyond it\), per token [+-]\d+ µs over in-process \(mean; target < 50 µs\); the busy node:http2 floor streaming as many tokens takes [+-]\d+ µs \([+-]\d+ µs beyond it\)\./);
  assert.match(suiteMarkdown(res, 'streaming')!, /REST SSE generate_stream: first token [+-][\d.]+ ms over in-process \(p50; target ≤ 1 ms\), of which [\d.]+ ms is the node:http floor's round trip/);
  assert.match(suitesTerminalReport(res), /gRPC 4×16\s+duet\s+duet-client/);

  const dir = mkdtempSync(join(tmpdir(), 'duet-bench-suites-'));
  try {
    const md = join(dir, 'BENCHMARKS.md');
    writeFileSync(md, '# Benchmarks\n\nProse written by hand.\n');
    for (let i = 0; i < 2; i++) writeGenerated(md, [['transport', suiteMarkdown(res, 'transport')!], ['streaming', suiteMarkdown(res, 'streaming')!]]);
    const text = readFileSync(md, 'utf8');
    assert.ok(text.startsWith('# Benchmarks\n\nProse written by hand.\n'));
    assert.equal(text.split(beginMarker('transport')).length, 2, 'one transport block after two writes');
    assert.match(text, /\| REST binary c=64 \| duet \| duet-client \|/);
    assert.match(text, /first token [+-][\d.]+ ms over in-process/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [CLI, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out };
}

test('duet bench refuses bad suite flags before measuring anything', async () => {
  const cases: [string[], RegExp][] = [
    [['--suite', 'transport,grpc'], /unknown suite 'grpc'; the suites are transport, image, streaming, scenarios/],
    [['--suite', 'transport', '--url', '127.0.0.1:1'], /--url goes with the scenarios suite; transport start their own server/],
    [['--suite', 'image', '--model', 'my_model'], /--model measures your model in the scenarios suite/],
    [['--suite', 'transport', '--load-generator', 'ab'], /--load-generator must be auto, native or duet-client, got 'ab'/],
    [['--suite', 'transport', '--rounds', '1.5'], /--rounds must be a whole number, got '1.5'/],
    [['--suite', 'streaming', '--suite-duration', '0'], /--suite-duration must be a positive number, got '0'/],
    [['--suite', 'streaming', '--compare', '.'], /--compare goes with the transport and image suites/],
  ];
  for (const [args, msg] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
    assert.match(r.out, msg);
  }
});
