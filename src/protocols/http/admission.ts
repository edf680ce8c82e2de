// What a REST request must pass before its body is read: its browser origin (CSRF and CORS
// preflights), then the call wrapper's auth step (API key, Triton's restricted APIs). Decisions live
// in src/security/ and src/api/; this only reads node:http headers and shapes the answer.

import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { InferenceError } from '../../core/errors.js';
import type { AccessControl } from '../../security/auth.js';
import { OriginPolicy } from '../../security/cors.js';
import type { HttpReply } from './routes.js';

export interface Admission {
  /** For the header names a preflight must allow; the checks themselves are the wrapper's (authorize). */
  access?: AccessControl;
  /** Browser origins allowed in; absent: none (same-origin and non-browser requests still pass). */
  origins?: OriginPolicy;
}

const NO_ORIGINS = new OriginPolicy();

export const headerOf = (req: http.IncomingMessage) => (name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** A body the client is sending (or may send) that a refusal leaves unread. */
const hasBody = (req: http.IncomingMessage) =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

function refusal(req: http.IncomingMessage, err: InferenceError, headers: Record<string, string>): HttpReply {
  const h: Record<string, string> = { ...headers };
  if (err.code === 'UNAUTHENTICATED') h['www-authenticate'] = 'Bearer realm="duet"';
  // Unread bytes from a refused client are not worth reading: close instead of draining them.
  if (hasBody(req)) h.connection = 'close';
  return { status: err.httpStatus, json: { error: err.message }, headers: h };
}

/**
 * `reply`: answer this instead of routing (a refusal or a preflight). `headers`: set on every answer to
 * this request (CORS for an allowed origin).
 */
export function admit(req: http.IncomingMessage, adm: Admission, authorize: () => InferenceError | undefined,
  header = headerOf(req)): { reply?: HttpReply; headers: Record<string, string> } {
  const origins = adm.origins ?? NO_ORIGINS;
  const decision = origins.check({
    origin: header('origin'),
    secFetchSite: header('sec-fetch-site'),
    host: header('host'),
    scheme: (req.socket as TLSSocket).encrypted ? 'https' : 'http',
  });
  if (decision.error) return { reply: refusal(req, decision.error, decision.headers), headers: decision.headers };
  if (req.method === 'OPTIONS' && header('origin') !== undefined && header('access-control-request-method') !== undefined) {
    return { reply: { status: 204, headers: origins.preflightHeaders(decision, adm.access?.headerNames) }, headers: decision.headers };
  }
  const denied = authorize();
  if (denied) return { reply: refusal(req, denied, decision.headers), headers: decision.headers };
  return { headers: decision.headers };
}
