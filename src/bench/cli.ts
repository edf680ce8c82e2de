// `duet bench`: flags in, the run, then the terminal table, results.json, results.csv, report.html
// and (with --markdown) a BENCHMARKS.md with SVG charts.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ConsoleProgress } from './progress.js';
import { PROTOCOLS, parseDataSpec, parseShapes, type Protocol } from './payload.js';
import { briefScenarios, type Scenario } from './scenarios.js';
import { BUNDLED_MODELS, endpointsFrom } from './target.js';
import { runBench, type BenchResults } from './run.js';
import { terminalReport, writeResults } from './output.js';
import { htmlReport } from './html.js';
import { writeMarkdownReport } from './markdown.js';
import { parseGeneratorChoice, parseSuites, type SuiteName } from './suites.js';
import { runSuites, type SuiteResults } from './suite-run.js';
import { suiteMarkdown, suitesTerminalReport } from './suite-report.js';
import { writeGenerated } from './blocks.js';
import { netCommand, NET_FLAGS_HELP, NET_HELP, NET_OPTIONS } from './net-cli.js';
import { isNetSuite } from './net-setup.js';

export const BENCH_HELP = `duet bench — closed-loop load over gRPC, REST JSON and REST binary, as perf_analyzer measures

Usage:
  duet bench [--suite LIST] [--model NAME | --scenarios LIST] [options]

Suites (--suite, comma-separated, or all; default scenarios):
  transport   my_model (128 FP32 -> sum): REST JSON and REST binary at c=1 and c=64, gRPC at c=1 and
              4 connections x 16 streams, each against its floors (bare node:http echo; bare node:http2
              gRPC echo and grpc-js echo, answering the bytes Duet answers; node:http and node:http2 with a
              worker-thread hop per request, Duet's shape with no other work) in interleaved rounds
  image       resnet_mini, a 602 KB FP32 image: REST binary and gRPC at c=1 and c=8, against the floors
  streaming   tiny_gpt over gRPC ModelStreamInfer and REST SSE against the in-process model: time to
              first token, per-token time, 64 concurrent streams (longest gap between tokens); floors:
              node:http2 and node:http answering at once, and after a worker hop busy as long as the
              in-process first token, then streaming as many tokens, each after the in-process mean gap
  scenarios   the brief's scenarios (features, embedding, image, image-int, audio, text) over every
              protocol at each --concurrency, next to echo floors and the in-process call
${NET_HELP}transport and image use wrk (REST) and h2load (gRPC) where installed, else the bench's own worker-thread
client; each row names its generator, the client's CPU (flagged client-bound over 0.8 of a core), the
server's main-thread and whole-process CPU per request (/proc) and its main event-loop utilization.
Without --url, scenarios start their own server (ports 0); the other suites always do.

Options for transport, image and streaming:
  --rounds N               interleaved rounds of floor and Duet per row (default 2)
  --suite-duration S       measured seconds per run (default 3; 1 for connections, hol, fanout, link)
  --suite-warmup S         warm-up seconds per target and row (default 2; 0.5 for connections, hol, fanout, link):
                           a fresh server's c=1 p50 settles only after ~1.5 s of load, as V8 optimizes
  --load-generator G       auto (native where installed), native (fail without wrk/h2load), duet-client (default auto)
  --compare DIR            another built Duet checkout (its dist/ and models/) measured in the same rounds as
                           duet@REV, e.g. main against your branch (repeatable; transport and image)
  --tokens N               streaming: tokens per generation (default 32)
  --generations N          streaming: generations per stream at one stream (default 100: one first token each)
  --stream-warmup S        streaming: seconds of short generations per path before it is measured; V8 optimizes
                           what runs once per generation only after a few thousand (default 3)

${NET_FLAGS_HELP}
Options for scenarios:
  --model NAME             the model to load (one scenario); its inputs come from the server's metadata
  --model-version V        a version of it (default: the server's choice)
  --scenarios LIST         brief scenarios by name, comma-separated (default all of them)
  --protocol P             grpc | http-json | http-binary | all, or a comma list (default all)
  --concurrency LIST       closed-loop concurrency levels (default 1,4,16,64)
  --duration S             measured seconds per run (default 2)
  --warmup S               unmeasured warm-up seconds before each run (default 0.5)
  --shape DIMS             input shape, e.g. 1,128 or INPUT0:1,128;INPUT1:1,4 (default: metadata, -1 -> 1)
  --data random|pixels|text:STRING|FILE
                           input values: random values of the datatype (floats at full precision);
                           pixels = integers 0..255; a JSON file ({"INPUT0":[...]}, {"inputs":[...]}
                           or an array) or a raw little-endian binary file (default random)
  --url HOST:PORT          REST address of a running server (default: start one)
  --grpc-url HOST:PORT     its gRPC address (default: the --url host, port 8001)
  --model-repository DIR   models for the server it starts and the in-process baseline (default: the bundled models/)
  --baselines LIST         echo,in-process or none (default echo,in-process): echo = bare node:http and grpc-js
                           servers answering the same bytes; in-process = dataPlane.infer with no protocol
  --workers N              load-generator threads (default min(concurrency, cores))
  --encode each|once       encode every request as a client does (default), or once and resend the bytes
  --timeout S              per-request timeout, counted as an error (default 60)
  --out DIR                results directory: results.json, results.csv, report.html (default bench-results)
  --markdown FILE          also write each suite's generated block in a Markdown file (BENCHMARKS.md; the prose
                           around the blocks is kept), scenarios with SVG charts in --charts-dir
  --charts-dir DIR         where the Markdown report's charts go (default docs/bench)
  --quiet                  no progress output
  --from-results FILE      run nothing: re-render the table, report.html and --markdown from a results.json
                           (or, with network suites, their tables, charts and blocks from a suites-net.json)
  -h, --help               show this help
`;

function fail(msg: string): never {
  process.stderr.write(`duet bench: ${msg}\n`);
  process.exit(2);
}

function positive(name: string, v: string | undefined, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) fail(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${v}'`);
  return n;
}

export async function benchCommand(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'model-version': { type: 'string' },
        scenarios: { type: 'string' },
        protocol: { type: 'string' },
        concurrency: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        shape: { type: 'string' },
        data: { type: 'string' },
        url: { type: 'string' },
        'grpc-url': { type: 'string' },
        'model-repository': { type: 'string' },
        baselines: { type: 'string' },
        workers: { type: 'string' },
        encode: { type: 'string' },
        timeout: { type: 'string' },
        out: { type: 'string' },
        markdown: { type: 'string' },
        'charts-dir': { type: 'string' },
        quiet: { type: 'boolean' },
        'from-results': { type: 'string' },
        suite: { type: 'string' },
        rounds: { type: 'string' },
        'suite-duration': { type: 'string' },
        'suite-warmup': { type: 'string' },
        'load-generator': { type: 'string' },
        tokens: { type: 'string' },
        compare: { type: 'string', multiple: true },
        generations: { type: 'string' },
        'stream-warmup': { type: 'string' },
        ...NET_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    fail(`${(e as Error).message}\n\n${BENCH_HELP}`);
  }
  if (values.help) {
    process.stdout.write(BENCH_HELP);
    return;
  }
  let suites: SuiteName[] = [];
  let generator: ReturnType<typeof parseGeneratorChoice> = 'auto';
  try {
    suites = parseSuites(values.suite);
    generator = parseGeneratorChoice(values['load-generator']);
  } catch (e) {
    fail((e as Error).message);
  }
  const net = suites.filter(isNetSuite);
  const others = suites.filter((s): s is 'transport' | 'image' | 'streaming' => s !== 'scenarios' && !isNetSuite(s));
  if ((others.length || net.length) && values.url) fail(`--url goes with the scenarios suite; ${[...others, ...net].join(', ')} start their own server`);
  if ((others.length || (net.length && suites.includes('scenarios'))) && values['from-results']) {
    fail('--from-results re-renders scenario results (give it without --suite) or a suites-net.json (with --suite connections,hol,fanout,link only)');
  }
  if (values.compare && !others.some((s) => s === 'transport' || s === 'image')) fail('--compare goes with the transport and image suites');
  if (values.model && !suites.includes('scenarios')) fail('--model measures your model in the scenarios suite; add scenarios to --suite');
  const intArg = (name: string, v: string | undefined, dflt: number) => {
    const n = positive(name, v, dflt);
    if (!Number.isInteger(n)) fail(`--${name} must be a whole number, got '${v}'`);
    return n;
  };
  const protoArg = values.protocol ?? 'all';
  const protocols = (protoArg === 'all' ? [...PROTOCOLS] : protoArg.split(',').map((p) => p.trim())) as Protocol[];
  for (const p of protocols) if (!PROTOCOLS.includes(p)) fail(`--protocol: '${p}' is not one of grpc, http-json, http-binary, all`);
  const concurrency = (values.concurrency ?? '1,4,16,64').split(',').map((c) => Number(c.trim()));
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1)) fail(`--concurrency must be positive integers like 1,4,16,64, got '${values.concurrency}'`);
  const encode = values.encode ?? 'each';
  if (encode !== 'each' && encode !== 'once') fail(`--encode must be each or once, got '${encode}'`);
  const baselineList = (values.baselines ?? 'echo,in-process').split(',').map((b) => b.trim());
  for (const b of baselineList) if (!['echo', 'in-process', 'none', ''].includes(b)) fail(`--baselines: '${b}' is not echo, in-process or none`);

  let scenarios: Scenario[];
  try {
    if (values.model) {
      if (values.scenarios) fail('give --model or --scenarios, not both');
      const data = parseDataSpec(values.data);
      scenarios = [{ name: values.model, title: values.model, model: values.model, version: values['model-version'], shapes: parseShapes(values.shape), data }];
    } else {
      if (values.shape || values.data) fail('--shape and --data go with --model (the brief scenarios have their own)');
      scenarios = briefScenarios(values.scenarios?.split(',').map((s) => s.trim()).filter(Boolean));
    }
  } catch (e) {
    fail((e as Error).message);
  }

  const out = resolve(values.out ?? 'bench-results');
  const log = values.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  const written: string[] = [];
  if (net.length) {
    written.push(...await netCommand(net, values, {
      seconds: positive('suite-duration', values['suite-duration'], 1),
      warmupS: positive('suite-warmup', values['suite-warmup'], 0.5, true),
      rounds: intArg('rounds', values.rounds, 2),
      modelRepository: resolve(values['model-repository'] ?? BUNDLED_MODELS),
      out, log, argv, fail,
    }));
    if (!others.length && !suites.includes('scenarios')) {
      process.stdout.write(`\nwrote ${written.map((f) => relative(process.cwd(), f) || f).join(', ')}\n`);
      return;
    }
  }
  if (others.length) {
    const res: SuiteResults = await runSuites({
      suites: others,
      seconds: positive('suite-duration', values['suite-duration'], 3),
      warmupS: positive('suite-warmup', values['suite-warmup'], 2, true),
      rounds: intArg('rounds', values.rounds, 2),
      generator,
      modelRepository: resolve(values['model-repository'] ?? BUNDLED_MODELS),
      tokens: intArg('tokens', values.tokens, 32),
      generations: intArg('generations', values.generations, 100),
      streamWarmupS: positive('stream-warmup', values['stream-warmup'], 3, true),
      compare: values.compare?.map((d) => resolve(d)),
      log,
      command: argv,
    });
    process.stdout.write(suitesTerminalReport(res));
    mkdirSync(out, { recursive: true });
    const file = join(out, 'suites.json');
    writeFileSync(file, JSON.stringify(res, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    written.push(file);
    if (values.markdown) {
      const blocks = others.map((s) => [s, suiteMarkdown(res, s)] as [string, string | undefined]).filter((b): b is [string, string] => b[1] !== undefined);
      writeGenerated(resolve(values.markdown), blocks);
      written.push(resolve(values.markdown));
    }
    if (res.runs.length === 0 && !res.streaming) {
      process.stderr.write('duet bench: nothing was measured\n');
      process.exit(1);
    }
    if (!suites.includes('scenarios')) {
      process.stdout.write(`\nwrote ${written.map((f) => relative(process.cwd(), f) || f).join(', ')}\n`);
      return;
    }
  }
  const results: BenchResults = values['from-results'] ? JSON.parse(readFileSync(values['from-results'], 'utf8')) as BenchResults : await runBench({
    scenarios,
    protocols,
    concurrency,
    durationS: positive('duration', values.duration, 2),
    warmupS: positive('warmup', values.warmup, 0.5, true),
    endpoints: values.url ? endpointsFrom(values.url, values['grpc-url']) : values['grpc-url'] ? fail('--grpc-url needs --url too (stats and metadata come over REST)') : undefined,
    modelRepository: resolve(values['model-repository'] ?? BUNDLED_MODELS),
    baselines: { echo: baselineList.includes('echo'), inProcess: baselineList.includes('in-process') },
    workers: values.workers === undefined ? undefined : Math.floor(positive('workers', values.workers, 1)),
    encode,
    timeoutS: positive('timeout', values.timeout, 60),
    progress: values.quiet ? undefined : new ConsoleProgress(),
    log,
    command: argv,
  });
  process.stdout.write(terminalReport(results));
  if (results.runs.length === 0) {
    process.stderr.write('duet bench: nothing was measured\n');
    process.exit(1);
  }
  const files = writeResults(out, results, htmlReport(results));
  if (values.markdown) {
    const md = resolve(values.markdown);
    const charts = resolve(values['charts-dir'] ?? 'docs/bench');
    files.push(md, ...writeMarkdownReport(results, md, charts, argv));
  }
  process.stdout.write(`\nwrote ${[...written, ...files].map((f) => relative(process.cwd(), f) || f).join(', ')}\n`);
}
