// OpenAI's error object, {"error": {"message", "type", "param", "code"}}, for every answer under /v1/
// that is not a success: the status comes from the one code table (core/errors.ts); only the body's
// shape is OpenAI's, so its clients raise their typed errors (BadRequestError, NotFoundError, ...).

import { InferenceError } from '../../../core/errors.js';
import type { HttpReply } from '../routes.js';

/** An INVALID_ARGUMENT (or other) error that names the request field at fault, as OpenAI's `param`. */
export class OpenAiError extends InferenceError {
  constructor(message: string, readonly param: string | null, readonly openaiCode: string | null = null, code: InferenceError['code'] = 'INVALID_ARGUMENT') {
    super(code, message);
  }
}

export const badField = (param: string, message: string) => new OpenAiError(message, param);

/** OpenAI's `type` for a status: client errors are invalid requests, the rest the server's. */
function typeOf(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_error';
  return status < 500 ? 'invalid_request_error' : 'server_error';
}

function codeOf(status: number, e: unknown): string | null {
  if (e instanceof OpenAiError) return e.openaiCode;
  return status === 401 ? 'invalid_api_key' : null;
}

/** The error body for a failed /v1 call. */
export function openAiErrorBody(status: number, message: string, e?: unknown): { error: Record<string, unknown> } {
  return { error: { message, type: typeOf(status), param: e instanceof OpenAiError ? e.param : null, code: codeOf(status, e) } };
}

export const isOpenAiPath = (path: string) => path === '/v1' || path.startsWith('/v1/');

/** A refusal made before routing ({"error": "..."}: origin, auth) in OpenAI's shape. */
export function asOpenAiRefusal(reply: HttpReply): HttpReply {
  const json = reply.json as { error?: unknown } | undefined;
  if (reply.status < 400 || typeof json?.error !== 'string') return reply;
  return { ...reply, json: openAiErrorBody(reply.status, json.error) };
}
