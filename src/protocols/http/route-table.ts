// The REST routes one HttpServer answers, in one table: the server dispatches with it, the OpenAPI
// document (openapi.ts) is made from it, and test/openapi.test.ts checks one against the other, so a
// route cannot be served without being documented. Matching walks a tree of path segments: a few
// Map lookups per request, no regular expressions on the hot path.

import type { CallContext } from '../../api/context.js';
import type { Api } from '../../api/index.js';
import type { HttpReply, RouteInput } from './routes.js';

export type HttpMethod = 'GET' | 'POST';

/** Answers one request; `params` are the path's `{...}` segments in order, still percent-encoded. */
export type RouteHandler = (api: Api, ctx: CallContext, params: readonly string[], input: RouteInput) => Promise<HttpReply>;

export interface RestRoute {
  method: HttpMethod;
  /** OpenAPI path template: each `{name}` stands for one non-empty segment. One trailing slash is also accepted. */
  path: string;
  /** Unique; the document's operationId. */
  id: string;
  /** The gRPC method it matches, for access checks (security/auth.ts); absent: none (the key alone). */
  operation?: string;
  /** Low-cardinality name for metrics (never a model name). */
  label: string;
  /** The document's tag (kserve, generate, repository, openai, console, docs). */
  tag: string;
  handle: RouteHandler;
}

interface Node {
  fixed?: Map<string, Node>;
  param?: Node;
  /** Routes ending here, by method. */
  routes?: Map<string, RestRoute>;
  /** The first route's label: what a wrong method on this path is counted as. */
  label?: string;
  /** Index of the `{model_name}` (or `{model}`) param, -1 when none. */
  modelAt: number;
}

/** Where a path led: the routes that end there and the path's params. */
export interface RouteHit {
  readonly node: Readonly<Pick<Node, 'routes' | 'label' | 'modelAt'>>;
  readonly params: readonly string[];
}

const NO_PARAMS: readonly string[] = [];
const RECENT_PATHS = 256;

export class RouteTable {
  private readonly root: Node = { modelAt: -1 };
  private readonly list: RestRoute[] = [];
  /** Recent paths' hits: clients call the same few paths over and over (bounded; emptied when full). */
  private readonly recent = new Map<string, RouteHit | null>();

  add(...routes: RestRoute[]): this {
    for (const r of routes) this.addOne(r);
    return this;
  }

  /** Every route, in the order added. */
  get routes(): readonly RestRoute[] {
    return this.list;
  }

  private addOne(r: RestRoute): void {
    if (!r.path.startsWith('/')) throw new Error(`route path must start with '/': ${r.path}`);
    if (this.list.some((x) => x.id === r.id)) throw new Error(`duplicate route id ${r.id}`);
    let node = this.root;
    const names: string[] = [];
    for (const seg of segmentsOf(r.path)) {
      if (seg.startsWith('{') && seg.endsWith('}')) {
        names.push(seg.slice(1, -1));
        node = node.param ??= { modelAt: -1 };
      } else {
        node.fixed ??= new Map();
        let next = node.fixed.get(seg);
        if (!next) node.fixed.set(seg, (next = { modelAt: -1 }));
        node = next;
      }
    }
    node.routes ??= new Map();
    this.recent.clear();
    if (node.routes.has(r.method)) throw new Error(`duplicate route ${r.method} ${r.path}`);
    node.routes.set(r.method, r);
    node.label ??= r.label;
    node.modelAt = names.findIndex((n) => n === 'model_name' || n === 'model');
    this.list.push(r);
  }

  /** The routes a request path (no query string) reaches, or undefined. Fixed segments win over params. */
  match(path: string): RouteHit | undefined {
    let hit = this.recent.get(path);
    if (hit === undefined) {
      if (this.recent.size >= RECENT_PATHS) this.recent.clear();
      this.recent.set(path, (hit = this.find(path) ?? null));
    }
    return hit ?? undefined;
  }

  private find(path: string): RouteHit | undefined {
    if (path.charCodeAt(0) !== 47 /* '/' */) return undefined;
    if (path.length === 1) return this.root.routes ? { node: this.root, params: NO_PARAMS } : undefined;
    const end = path.charCodeAt(path.length - 1) === 47 ? path.length - 1 : path.length;
    const params: string[] = [];
    const node = walk(this.root, path, 1, end, params);
    return node ? { node, params: params.length ? params : NO_PARAMS } : undefined;
  }
}

/** The route for this method at a hit; HEAD is answered as GET. */
export function routeFor(hit: RouteHit | undefined, method: string): RestRoute | undefined {
  const routes = hit?.node.routes;
  if (!routes) return undefined;
  return routes.get(method) ?? (method === 'HEAD' ? routes.get('GET') : undefined);
}

/** The model a hit's path names, percent-decoded when it can be (for the access log). */
export function modelOf(hit: RouteHit | undefined): string | undefined {
  const seg = hit && hit.node.modelAt >= 0 ? hit.params[hit.node.modelAt] : undefined;
  if (seg === undefined) return undefined;
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

function segmentsOf(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

/** Depth-first: the fixed child first, then the param child (so '/v2/models/stats/ready' is model 'stats'). */
function walk(node: Node, path: string, from: number, end: number, params: string[]): Node | undefined {
  if (from > end) return node.routes ? node : undefined;
  let slash = path.indexOf('/', from);
  if (slash < 0 || slash > end) slash = end;
  if (slash === from) return undefined; // an empty segment matches nothing
  const seg = path.slice(from, slash);
  const fixed = node.fixed?.get(seg);
  if (fixed) {
    const hit = walk(fixed, path, slash + 1, end, params);
    if (hit) return hit;
  }
  if (node.param) {
    params.push(seg);
    const hit = walk(node.param, path, slash + 1, end, params);
    if (hit) return hit;
    params.pop();
  }
  return undefined;
}
