// The document's own routes. Both are made once, at the first request, from the whole table (so routes
// added after these are in it too), and are open without the API key: a browser follows a link to them
// without a header, and they hold nothing about the server's models or state.

import type { RestRoute, RouteTable } from '../route-table.js';
import { openApiDocument, type DocumentOptions } from './document.js';
import { HTML_CSP, renderHtml } from './html.js';

export const OPENAPI_JSON_PATH = '/v2/openapi.json';
export const OPENAPI_HTML_PATH = '/v2/openapi.html';

export function openApiRoutes(table: RouteTable, opts: DocumentOptions): RestRoute[] {
  let json: Buffer | undefined;
  let html: Buffer | undefined;
  const doc = () => openApiDocument(table.routes, opts);
  const common = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
  return [
    {
      method: 'GET', path: OPENAPI_JSON_PATH, id: 'openApiDocument', operation: 'PublicFile', label: 'openapi', tag: 'docs',
      handle: async () => ({ status: 200, chunks: [(json ??= Buffer.from(JSON.stringify(doc())))], headers: { ...common, 'content-type': 'application/json' } }),
    },
    {
      method: 'GET', path: OPENAPI_HTML_PATH, id: 'openApiPage', operation: 'PublicFile', label: 'openapi', tag: 'docs',
      handle: async () => ({
        status: 200, chunks: [(html ??= Buffer.from(renderHtml(doc())))],
        headers: { ...common, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': HTML_CSP },
      }),
    },
  ];
}
