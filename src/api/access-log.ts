// The access log: one line per finished call, on every protocol, from the wrapper's one `finished`.
// It reads the call's facts (method, model, byte counts), never its tensors or header values.

import type { LogFn } from '../core/log.js';
import type { CallLog } from './wrapper.js';

export function accessLog(log: LogFn): CallLog {
  return (ctx, code, seconds) => {
    const f = ctx.facts?.();
    log('access', 'info', {
      protocol: ctx.protocol,
      method: f?.method ?? ctx.method,
      model: f?.model,
      status: code,
      bytes_in: f?.bytesIn,
      bytes_out: f?.bytesOut,
      duration_ms: Math.round(seconds * 1e6) / 1000,
    });
  };
}
