// The transport-neutral call path: every method once (methods.ts), run through one wrapper
// (wrapper.ts) against a CallContext (context.ts). Protocol adapters only frame and translate.

import type { DataPlane } from '../dataplane.js';
import { Methods } from './methods.js';
import { CallWrapper, type WrapperOptions } from './wrapper.js';

export type { CallContext, CallFacts, Identity, WireProtocol } from './context.js';
export { Methods } from './methods.js';
export { CallWrapper, type CallLog, type Observer, type WrapperOptions } from './wrapper.js';

export interface Api {
  methods: Methods;
  wrapper: CallWrapper;
}

export function createApi(dp: DataPlane, opts: WrapperOptions = {}): Api {
  return { methods: new Methods(dp), wrapper: new CallWrapper(opts) };
}
