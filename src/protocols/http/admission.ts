// What a REST request must pass before its body is read: its browser origin (CSRF and CORS
// preflights), then the call wrapper's auth step (API key, Triton's restricted APIs). Decisions live
// in src/security/ and src/api/; this only reads node:http headers and shapes the answer.

import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { InferenceError } from '../../core/errors.js';
import type { AccessControl } from '../../security/auth.js';
import type { CallContext } from '../../api/context.js';
import { OriginPolicy } from '../../security/cors.js';
import type { HttpReply } from './routes.js';

export interface Admission {
  /** For the header names a preflight must allow; the checks themselves are the wrapper's (authorize). */
  access?: AccessControl;
  /** Browser origins allowed in; absent: none (same-origin and non-browser requests still pass). */
  origins?: OriginPolicy;
}

const NO_ORIGINS = new OriginPolicy();

/** A request header by lower-case name: the first value when it came more than once. */
export function headerIn(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

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

/** The call wrapper's auth step (CallWrapper.admit). */
export interface Gatekeeper {
  admit(ctx: CallContext): InferenceError | undefined;
}

/**
 * `reply`: answer this instead of routing (a refusal or a preflight). `headers`: set on every answer to
 * this request (CORS for an allowed origin).
 */
export function admit(req: http.IncomingMessage, adm: Admission, auth: Gatekeeper, ctx: CallContext): { reply?: HttpReply; headers: Record<string, string> } {
  const origins = adm.origins ?? NO_ORIGINS;
  const origin = headerIn(req, 'origin');
  const decision = origins.check({
    origin,
    secFetchSite: headerIn(req, 'sec-fetch-site'),
    host: headerIn(req, 'host'),
    scheme: (req.socket as TLSSocket).encrypted ? 'https' : 'http',
  });
  if (decision.error) return { reply: refusal(req, decision.error, decision.headers), headers: decision.headers };
  if (req.method === 'OPTIONS' && origin !== undefined && headerIn(req, 'access-control-request-method') !== undefined) {
    return { reply: { status: 204, headers: origins.preflightHeaders(decision, adm.access?.headerNames) }, headers: decision.headers };
  }
  const denied = auth.admit(ctx);
  if (denied) return { reply: refusal(req, denied, decision.headers), headers: decision.headers };
  // The decision itself (no error here): nothing more allocated for a request let in.
  return decision;
}
