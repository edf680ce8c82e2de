// The web console on the REST port: its static files (built by `npm run build` into dist/console) and
// one small settings route. Files are read once at start and served from memory: a request path only
// selects among the names found then, so nothing a client sends reaches the file system. The files are
// served before routing (serve()), like gRPC-Web: no API key (a page must load before it can ask for
// one), no origin check (a link from another site opens the page), not counted as API calls. The
// route table still holds all three routes (routes()), so the OpenAPI document and 404s say what is served.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { RestRoute } from './route-table.js';
import { noRoute, type HttpReply } from './routes.js';

/** Where `npm run build` writes the console (dist/console beside dist/src). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));
/** Hashed asset names live under this prefix; the page itself is `/`. */
export const ASSET_PREFIX = '/console/assets/';
/** What the page asks the server (API key checked as for any call): which buttons to show. */
export const SETTINGS_PATH = '/console/settings';

/** What the console needs to know about the server beyond the KServe API. */
export interface ConsoleSettings {
  /** Triton's model control mode; load/unload work only in 'explicit'. */
  model_control_mode: string;
  /** The model the chat panel starts on. */
  generate_model: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Scripts and styles from this origin only (no inline script, no eval); calls to this origin only;
 * no framing, no plugins, no form posts elsewhere.
 */
export const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const gzip = promisify(zlib.gzip);

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  cache: string;
  /** Compressed once, on first demand (async: the event loop stays free). */
  gzipped?: Promise<Buffer>;
}

export class ConsoleSite {
  private readonly assets = new Map<string, Asset>();

  /** The console in `dir`, or undefined when it was not built there (no index.html). */
  static load(dir = CONSOLE_DIR, settings: ConsoleSettings): ConsoleSite | undefined {
    return existsSync(join(dir, 'index.html')) ? new ConsoleSite(dir, settings) : undefined;
  }

  private constructor(dir: string, private readonly settings: ConsoleSettings) {
    // The page changes with every build, so it is revalidated; assets carry their content hash in the name.
    this.add('/', readFileSync(join(dir, 'index.html')), TYPES['.html'], 'no-cache');
    const assets = join(dir, 'assets');
    for (const e of existsSync(assets) ? readdirSync(assets, { withFileTypes: true }) : []) {
      const type = TYPES[extname(e.name)];
      if (!e.isFile() || !type) continue;
      this.add(ASSET_PREFIX + e.name, readFileSync(join(assets, e.name)), type, 'public, max-age=31536000, immutable');
    }
  }

  private add(path: string, body: Buffer, type: string, cache: string): void {
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    this.assets.set(path, { body, type, etag, cache });
  }

  /** The URL paths served (for tests and the OpenAPI document). */
  get paths(): string[] {
    return [...this.assets.keys()];
  }

  /** Answers a GET or HEAD of a console file and says true; anything else is left to the REST routes. */
  serve(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const a = this.assets.get(q < 0 ? url : url.slice(0, q));
    if (!a) return false;
    void this.send(req, res, a).catch(() => res.destroy());
    return true;
  }

  private async send(req: http.IncomingMessage, res: http.ServerResponse, a: Asset): Promise<void> {
    const headers: http.OutgoingHttpHeaders = { ...SECURITY_HEADERS, 'cache-control': a.cache, etag: a.etag, vary: 'Accept-Encoding' };
    if (matches(req.headers['if-none-match'], a.etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    let body = a.body;
    if (body.byteLength >= 1024 && acceptsGzip(req.headers['accept-encoding'])) {
      a.gzipped ??= gzip(a.body, { level: 9 });
      body = await a.gzipped;
      headers['content-encoding'] = 'gzip';
    }
    headers['content-type'] = a.type;
    headers['content-length'] = body.byteLength;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** The whole (uncompressed) answer for a file's path, for the route table; unknown names are 404. */
  private reply(path: string): HttpReply {
    const a = this.assets.get(path);
    if (!a) throw noRoute('GET', path);
    return { status: 200, chunks: [a.body], headers: { ...SECURITY_HEADERS, 'cache-control': a.cache, etag: a.etag, 'content-type': a.type } };
  }

  /** The console's routes, for the server's route table (files: operation PublicFile, open without the key). */
  routes(): RestRoute[] {
    const file = { method: 'GET', operation: 'PublicFile', label: 'console', tag: 'console' } as const;
    return [
      { ...file, path: '/', id: 'consolePage', handle: async () => this.reply('/') },
      { ...file, path: `${ASSET_PREFIX}{file}`, id: 'consoleAsset', handle: async (_api, _ctx, [name]) => this.reply(ASSET_PREFIX + name) },
      {
        method: 'GET', path: SETTINGS_PATH, id: 'consoleSettings', label: 'console_settings', tag: 'console',
        handle: ({ wrapper }, ctx) => wrapper.unary(ctx, () => undefined, () => this.settings, (json) => ({ status: 200, json, headers: { 'cache-control': 'no-store' } })),
      },
    ];
  }
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((t) => {
    const s = t.trim();
    return s === '*' || s === etag || s === `W/${etag}`;
  });
}

function acceptsGzip(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return name.trim() === 'gzip' && (q === undefined || Number(q.slice(2)) > 0);
  });
}
