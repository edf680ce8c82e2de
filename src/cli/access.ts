// `duet serve`'s access flags: the API key, Triton's restricted APIs and allowed browser origins.

import { readFileSync } from 'node:fs';
import { invalidArg } from '../core/errors.js';
import { parseRestrictions, type Restrictions } from '../security/auth.js';
import { parseAllowedOrigin } from '../security/cors.js';
import type { ServerOptions } from '../server.js';

export const ACCESS_FLAGS = {
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  'http-restricted-api': { type: 'string', multiple: true },
  'grpc-restricted-protocol': { type: 'string', multiple: true },
  'cors-allow-origin': { type: 'string', multiple: true },
} as const;

export const ACCESS_HELP = `  --api-key KEY            every call but health live/ready needs 'Authorization: Bearer KEY' (REST, gRPC
                           metadata, metrics); prefer --api-key-file or env DUET_API_KEY (argv is visible in ps)
  --api-key-file FILE      read the API key from FILE (surrounding whitespace trimmed)
  --http-restricted-api C:H=V     Triton's: REST calls of categories C (comma-separated: health, metadata,
                           inference, shared-memory, model-config, model-repository, statistics, trace,
                           logging) need header H with value V, else 403 (repeatable)
  --grpc-restricted-protocol C:H=V  the same for gRPC, with metadata 'triton-grpc-protocol-H' (repeatable)
  --cors-allow-origin O    let browser pages from origin O (or * for any) call REST; other cross-origin
                           requests are refused with 403 (repeatable; default: none)
`;

type AccessValues = { [K in keyof typeof ACCESS_FLAGS]?: (typeof ACCESS_FLAGS)[K] extends { multiple: true } ? string[] : string };

export type AccessOptions = Pick<ServerOptions, 'apiKey' | 'httpRestrictedApis' | 'grpcRestrictedProtocols' | 'corsAllowOrigins'>;

/** Flags (and DUET_API_KEY) into server options; throws INVALID_ARGUMENT naming the flag. */
export function accessOptions(values: AccessValues, env: NodeJS.ProcessEnv = process.env): AccessOptions {
  if (values['api-key'] !== undefined && values['api-key-file'] !== undefined) {
    throw invalidArg('give --api-key or --api-key-file, not both');
  }
  let apiKey = values['api-key'];
  let from = '--api-key';
  if (values['api-key-file'] !== undefined) {
    from = `--api-key-file ${values['api-key-file']}`;
    try {
      apiKey = readFileSync(values['api-key-file'], 'utf8').trim();
    } catch (e) {
      throw invalidArg(`--api-key-file: cannot read '${values['api-key-file']}': ${(e as Error).message}`);
    }
  } else if (apiKey === undefined && env.DUET_API_KEY !== undefined) {
    apiKey = env.DUET_API_KEY.trim();
    from = 'DUET_API_KEY';
  }
  if (apiKey !== undefined && apiKey === '') throw invalidArg(`the API key from ${from} is empty`);
  const origins = values['cors-allow-origin'] ?? [];
  origins.forEach(parseAllowedOrigin);
  const http: Restrictions = parseRestrictions(values['http-restricted-api'] ?? [], 'http-restricted-api');
  const grpc: Restrictions = parseRestrictions(values['grpc-restricted-protocol'] ?? [], 'grpc-restricted-protocol', 'triton-grpc-protocol-');
  return {
    apiKey,
    httpRestrictedApis: http,
    grpcRestrictedProtocols: grpc,
    corsAllowOrigins: origins.length ? origins : undefined,
  };
}

/** Startup-log lines saying what is on; never a key or a header's value. */
export function describeAccess(o: AccessOptions): string[] {
  const groups = (r: Restrictions | undefined) => {
    const byHeader = new Map<string, string[]>();
    for (const [c, { header }] of Object.entries(r ?? {})) byHeader.set(header, [...(byHeader.get(header) ?? []), c]);
    return [...byHeader].map(([h, cs]) => `${cs.join(',')} need '${h}'`).join('; ');
  };
  const lines = [o.apiKey
    ? 'API key: required on REST, gRPC and metrics (health live/ready exempt)'
    : 'API key: off (anyone who reaches the ports may call every API; set --api-key-file or DUET_API_KEY)'];
  const h = groups(o.httpRestrictedApis);
  const g = groups(o.grpcRestrictedProtocols);
  if (h) lines.push(`restricted REST APIs: ${h}`);
  if (g) lines.push(`restricted gRPC protocols: ${g}`);
  lines.push(o.corsAllowOrigins?.length
    ? `browsers: CORS allowed for ${o.corsAllowOrigins.join(', ')}; other cross-origin requests refused`
    : 'browsers: cross-origin requests refused (no --cors-allow-origin)');
  return lines;
}
