// GET /v2/openapi.json: an OpenAPI 3.1 document made from the server's route table, so it lists exactly
// the routes this server answers (the OpenAI and console routes only when they are served), with the
// security the server was started with.

import { readFileSync } from 'node:fs';
import { categoryOf, keyExempt } from '../../../security/auth.js';
import type { RestRoute } from '../route-table.js';
import { operationDoc, type OperationDoc } from './operations.js';
import { ref, SCHEMAS } from './schemas.js';

type Json = Record<string, unknown>;

export interface DocumentOptions {
  /** Every call but the open ones needs `Authorization: Bearer <key>` (--api-key). */
  requiresKey?: boolean;
  /** Restricted-API groups (--http-restricted-api): the header each category needs. */
  restricted?: Partial<Record<string, string>>;
}

const PACKAGE_JSON = new URL('../../../../../package.json', import.meta.url);

function packageInfo(): { version: string; license?: string } {
  try {
    return JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string; license?: string };
  } catch {
    return { version: '0.0.0' };
  }
}

const DESCRIPTION = [
  'The REST API of Duet, a KServe v2 / Triton-compatible inference server, on its REST port (default 8000).',
  'KServe routes answer errors as {"error": "message"} with the HTTP status of the error code; /v1 (OpenAI-compatible) routes as OpenAI\'s error object.',
  'Every path also answers with one trailing slash; every GET route also answers HEAD.',
  'Model names and versions in paths are percent-encoded.',
  'CORS: requests from origins allowed with --cors-allow-origin get CORS headers, and OPTIONS preflights (Origin and Access-Control-Request-Method set) ' +
    'are answered 204 on any path before routing; other cross-origin browser requests are refused with 403.',
  'gRPC-Web (POST with Content-Type application/grpc-web*) is served on the same port and is described by proto/, not here.',
].join('\n\n');

const PARAM_TEXT: Record<string, string> = {
  model_name: 'The model\'s name (percent-encoded).',
  model_version: 'A version of the model (its directory number).',
  model: 'The model\'s name.',
  file: 'A file name.',
};

const TAGS: Record<string, string> = {
  health: 'Liveness and readiness (KServe v2).',
  metadata: 'Server and model metadata and configuration (KServe v2).',
  inference: 'Inference (KServe v2, with the binary tensor extension).',
  generate: "Triton's generate extension (one answer, or server-sent events).",
  statistics: "Triton's statistics extension.",
  repository: "Triton's model repository extension.",
  openai: 'The OpenAI-compatible API for text-generating models.',
  console: 'The web console\'s files.',
  docs: 'This document.',
};

const errorResponse = (family: OperationDoc['errors'], description: string) => family === 'static'
  ? { description }
  : { description, content: { 'application/json': { schema: ref(family === 'openai' ? 'OpenAIError' : 'Error') } } };

function operation(route: RestRoute, doc: OperationDoc, opts: DocumentOptions): Json {
  const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const responses: Json = { ...doc.ok };
  const add = (status: string, why: string) => {
    responses[status] ??= errorResponse(doc.errors, why);
  };
  if (doc.body) add('400', 'The request is not valid (the message names what).');
  if (names.length) add('404', names.includes('model_name') || names.includes('model') ? 'No such model (or version).' : 'Not found.');
  if (doc.body) add('413', 'The body is larger than --http-max-body.');
  const security: Json = {};
  const op = route.operation ?? '';
  if (opts.requiresKey && !keyExempt(op)) {
    security.apiKey = [];
    add('401', 'No API key, or not the right one.');
  }
  const category = route.operation === undefined ? undefined : categoryOf(route.operation);
  if (category && opts.restricted?.[category]) {
    security[`restricted_${category}`] = [];
    add('403', `The '${category}' API is restricted and the request lacks its header.`);
  }
  if (doc.errors !== 'static') responses.default = errorResponse(doc.errors, 'Any other error, with its status (e.g. 503 unavailable, 429 queue full, 504 timed out).');
  return {
    operationId: route.id,
    tags: [route.tag],
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(names.length ? {
      parameters: names.map((n) => ({ name: n, in: 'path', required: true, description: PARAM_TEXT[n] ?? n, schema: { type: 'string' } })),
    } : {}),
    ...(doc.body ? { requestBody: doc.body } : {}),
    responses,
    security: Object.keys(security).length ? [security] : [],
  };
}

/** The routes the table holds that have no entry in operations.ts (the test requires none). */
export function undocumented(routes: readonly RestRoute[]): RestRoute[] {
  return routes.filter((r) => !operationDoc(r.method, r.path));
}

export function openApiDocument(routes: readonly RestRoute[], opts: DocumentOptions = {}): Json {
  const pkg = packageInfo();
  const paths: Record<string, Json> = {};
  const tags = new Set<string>();
  for (const r of routes) {
    // A route without an entry is still listed (the document never hides a route), with its id as summary.
    const doc = operationDoc(r.method, r.path) ?? { summary: r.id, ok: { '200': { description: 'OK' } }, errors: 'kserve' as const };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r, doc, opts);
    tags.add(r.tag);
  }
  const securitySchemes: Json = {
    apiKey: { type: 'http', scheme: 'bearer', description: 'The server\'s API key (--api-key), as Authorization: Bearer <key>.' },
  };
  for (const [category, header] of Object.entries(opts.restricted ?? {})) {
    if (header) securitySchemes[`restricted_${category}`] = { type: 'apiKey', in: 'header', name: header, description: `Triton's restricted '${category}' API (--http-restricted-api).` };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Duet',
      version: pkg.version,
      summary: 'KServe v2 / Triton-compatible inference server',
      description: DESCRIPTION,
      ...(pkg.license ? { license: { name: pkg.license, identifier: pkg.license } } : {}),
    },
    servers: [{ url: '/', description: 'This server (its REST port).' }],
    tags: [...tags].map((name) => ({ name, description: TAGS[name] ?? name })),
    paths,
    components: {
      // The OpenAI and console schemas only when their routes are served.
      schemas: { ...SCHEMAS.kserve, ...(tags.has('openai') ? SCHEMAS.openai : {}), ...(tags.has('console') ? SCHEMAS.console : {}) },
      securitySchemes,
    },
  };
}
