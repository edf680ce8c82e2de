// Browsers: a page on another site may not use or change the server unless the operator allows its
// origin (--cors-allow-origin). Requests without an Origin (curl, tritonclient, the SDK) are not
// browsers' and pass; same-origin requests pass. Allowed origins get CORS answers, including the
// headers gRPC-Web needs. Pure decisions on header values, so the REST and gRPC-Web front-ends share them.

import { InferenceError, invalidArg } from '../core/errors.js';

/** Request headers a browser client may send (KServe binary extension, tracing, gRPC-Web). */
export const ALLOWED_REQUEST_HEADERS = [
  'authorization', 'content-type', 'content-encoding', 'inference-header-content-length', 'traceparent', 'tracestate',
  'x-grpc-web', 'x-user-agent', 'grpc-timeout',
];
/** Response headers a browser client may read. */
export const EXPOSED_HEADERS = ['grpc-status', 'grpc-message', 'grpc-status-details-bin', 'inference-header-content-length'];
export const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'];

/** One --cors-allow-origin value: '*' or scheme://host[:port], normalized as browsers send it. */
export function parseAllowedOrigin(s: string): string {
  if (s === '*') return s;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw invalidArg(`--cors-allow-origin: '${s}' is not an origin like https://app.example.com or *`);
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password || u.origin === 'null') {
    throw invalidArg(`--cors-allow-origin: '${s}' must be only scheme://host[:port], with no path`);
  }
  return u.origin;
}

/** What the request's headers say about where it comes from. */
export interface RequestSource {
  origin?: string;
  secFetchSite?: string;
  /** The request's own Host (or :authority) and scheme, for same-origin requests. */
  host?: string;
  scheme: 'http' | 'https';
}

export interface OriginDecision {
  /** Set when the request is refused (PERMISSION_DENIED). */
  error?: InferenceError;
  /** Headers for the answer (CORS for an allowed cross-origin request; Vary whenever CORS is on). */
  headers: Record<string, string>;
}

const PASS: OriginDecision = Object.freeze({ headers: Object.freeze({}) as Record<string, string> });

function sameOrigin(origin: string, src: RequestSource): boolean {
  if (!src.host) return false;
  try {
    return new URL(`${src.scheme}://${src.host}`).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}

export class OriginPolicy {
  private readonly any: boolean;
  private readonly allowed: Set<string>;

  constructor(allow: readonly string[] = []) {
    const list = allow.map(parseAllowedOrigin);
    this.any = list.includes('*');
    this.allowed = new Set(list);
  }

  get corsEnabled(): boolean {
    return this.allowed.size > 0;
  }

  private allows(origin: string): boolean {
    if (this.any || this.allowed.has(origin)) return true;
    try {
      return this.allowed.has(new URL(origin).origin);
    } catch {
      return false;
    }
  }

  /** Decide one request before anything else is done with it. */
  check(src: RequestSource): OriginDecision {
    const { origin } = src;
    const crossSite = src.secFetchSite !== undefined && src.secFetchSite.toLowerCase() === 'cross-site';
    // The common case (no browser, no CORS) allocates nothing.
    if (origin === undefined && !crossSite && !this.corsEnabled) return PASS;
    const headers: Record<string, string> = this.corsEnabled ? { vary: 'Origin' } : {};
    if (origin !== undefined) {
      if (this.allows(origin)) {
        headers['access-control-allow-origin'] = origin;
        headers['access-control-expose-headers'] = EXPOSED_HEADERS.join(', ');
        return { headers };
      }
      if (!crossSite && sameOrigin(origin, src)) return { headers };
      return {
        headers,
        error: new InferenceError('PERMISSION_DENIED',
          `cross-origin request from '${origin}' refused: start the server with --cors-allow-origin ${origin} to allow that origin`),
      };
    }
    if (crossSite && !this.any) {
      return {
        headers,
        error: new InferenceError('PERMISSION_DENIED',
          `cross-site request (Sec-Fetch-Site: cross-site) refused: allow its origin with --cors-allow-origin`),
      };
    }
    return { headers };
  }

  /** Headers answering an allowed preflight (OPTIONS with Access-Control-Request-Method); `extra`: more request headers to allow. */
  preflightHeaders(decision: OriginDecision, extra: readonly string[] = []): Record<string, string> {
    return {
      ...decision.headers,
      'access-control-allow-methods': ALLOWED_METHODS.join(', '),
      'access-control-allow-headers': [...new Set([...ALLOWED_REQUEST_HEADERS, ...extra])].join(', '),
      'access-control-max-age': '600',
    };
  }
}
