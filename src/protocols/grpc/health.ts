// grpc.health.v1.Health: protobuf <-> the methods' health checks (src/api/methods.ts decides what a
// service name follows).

import type { Api } from '../../api/index.js';
import { asInferenceError } from '../../core/errors.js';
import { grpc as g } from '../../generated/proto.js';
import { requestOf, toStatus, unary, type Handler } from './service.js';

const Status = g.health.v1.HealthCheckResponse.ServingStatus;
const decode = (r: g.health.v1.HealthCheckRequest) => ({ service: r.service ?? '' });
const encode = (r: { status: keyof typeof Status }) => g.health.v1.HealthCheckResponse.create({ status: Status[r.status] });

export function healthService(api: Api): Record<string, Handler> {
  const { methods: m, wrapper: w } = api;
  return {
    Check: unary(w, decode, (c, q) => m.HealthCheck(c, q), encode),
    // The status now and at each change, until the client goes away (a few tiny messages: no backpressure).
    Watch: (call, _cb, ctx) => {
      void (async () => {
        try {
          for await (const msg of w.stream(ctx!, () => decode(requestOf<g.health.v1.HealthCheckRequest>(call)), (c, q) => m.HealthWatch(c, q), encode)) call.write(msg);
        } catch (e) {
          call.sendStatus(toStatus(asInferenceError(e)));
        }
      })();
    },
  };
}
