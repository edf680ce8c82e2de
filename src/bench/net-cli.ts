// `duet bench --suite connections,hol,fanout,link`: their flags, the run, the terminal tables,
// suites-net.json, and (with --markdown) their generated blocks and charts in BENCHMARKS.md.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { writeGenerated } from './blocks.js';
import { DEFAULT_LINKS, parseLink, type LinkSpec } from './link-proxy.js';
import { netCharts, netClaimsMarkdown, netMarkdown, netTerminalReport } from './net-report.js';
import { runNet } from './net-run.js';
import { NET_SUITES, type NetResults, type NetSuiteName } from './net-setup.js';

export const NET_HELP = `  connections REST with a new connection per request, REST keep-alive and gRPC on one connection:
              p50/p99, req/s and server CPU per request at c=1 and c=16 (features, image)
  hol         head-of-line blocking: fast my_model requests beside slow ones (a model sleeping
              --slow-ms, the 602 KB image) over one gRPC connection, one HTTP/1.1 connection, a pool
  fanout      many clients at a low rate: --fanout-sizes open REST connections, gRPC connections,
              gRPC streams over 4 connections; server memory per client, CPU per request, p99, errors
  link        each protocol through an emulated slow link (--links; a proxy in the bench): p50 and
              the share of it that is the link's own time
`;

export const NET_OPTIONS = {
  links: { type: 'string' },
  'fanout-sizes': { type: 'string' },
  'fanout-rate': { type: 'string' },
  'hol-pool': { type: 'string' },
  'hol-rate': { type: 'string' },
  'slow-ms': { type: 'string' },
} as const;

export const NET_FLAGS_HELP = `Options for connections, hol, fanout and link (with --rounds, --suite-duration, --suite-warmup):
  --links LIST             link: LATENCYms/RATE[k|m|g]bit, comma-separated (default 1ms/1gbit,10ms/100mbit,50ms/10mbit)
  --fanout-sizes LIST      fanout: open clients per run (default 100,1000,5000)
  --fanout-rate N          fanout: requests per second all clients send together (default 500)
  --hol-pool N             hol: HTTP/1.1 connections in the pool (default 4)
  --hol-rate N             hol: fast requests per second (default 100)
  --slow-ms N              hol: how long the sleep model takes (default 20)
`;

interface Common {
  seconds: number;
  warmupS: number;
  rounds: number;
  modelRepository: string;
  out: string;
  log: (line: string) => void;
  argv: string[];
  fail: (msg: string) => never;
}

function positiveInt(name: string, v: string | undefined, dflt: number, fail: Common['fail']): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive whole number, got '${v}'`);
  return n;
}

/** Runs the suites; returns the files written. */
export async function netCommand(suites: NetSuiteName[], values: Record<string, unknown>, c: Common): Promise<string[]> {
  const str = (k: string) => values[k] as string | undefined;
  let links: LinkSpec[] = DEFAULT_LINKS;
  try {
    if (str('links') !== undefined) links = str('links')!.split(',').map((s) => s.trim()).filter(Boolean).map(parseLink);
  } catch (e) {
    c.fail((e as Error).message);
  }
  if (!links.length) c.fail('--links needs one or more links, e.g. 10ms/100mbit');
  const sizes = (str('fanout-sizes') ?? '100,1000,5000').split(',').map((s) => s.trim());
  const fanoutSizes = sizes.map((s) => positiveInt('fanout-sizes', s, 0, c.fail));
  const from = str('from-results');
  // --from-results: the tables, charts and blocks again from a suites-net.json, nothing measured.
  const res: NetResults = from ? JSON.parse(readFileSync(from, 'utf8')) as NetResults : await runNet({
    suites: NET_SUITES.filter((s) => suites.includes(s)),
    seconds: c.seconds, warmupS: c.warmupS, rounds: c.rounds, modelRepository: c.modelRepository,
    fanoutSizes, fanoutRate: positiveInt('fanout-rate', str('fanout-rate'), 500, c.fail),
    holPool: positiveInt('hol-pool', str('hol-pool'), 4, c.fail), holRate: positiveInt('hol-rate', str('hol-rate'), 100, c.fail),
    slowMs: positiveInt('slow-ms', str('slow-ms'), 20, c.fail), links, log: c.log, command: c.argv,
  });
  process.stdout.write(netTerminalReport(res));
  const written: string[] = [];
  if (!from) {
    mkdirSync(c.out, { recursive: true });
    const file = join(c.out, 'suites-net.json');
    writeFileSync(file, JSON.stringify(res, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    written.push(file);
  }
  const md = str('markdown');
  if (md) {
    const mdFile = resolve(md);
    const charts = resolve(str('charts-dir') ?? 'docs/bench');
    mkdirSync(charts, { recursive: true });
    const rel = relative(dirname(mdFile), charts) || '.';
    for (const ch of netCharts(res)) {
      writeFileSync(join(charts, `${ch.name}.svg`), ch.svg);
      written.push(join(charts, `${ch.name}.svg`));
    }
    const blocks = suites.map((s) => [s, netMarkdown(res, s, rel)] as [string, string | undefined]).filter((b): b is [string, string] => b[1] !== undefined);
    // The claims rows only from a run of all four, so the table never mixes runs.
    const claims = suites.length === NET_SUITES.length ? netClaimsMarkdown(res) : undefined;
    writeGenerated(mdFile, claims ? [['claims-net', claims], ...blocks] : blocks);
    written.push(mdFile);
  }
  return written;
}
