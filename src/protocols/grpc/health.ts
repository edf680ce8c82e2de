// grpc.health.v1.Health: "" and the inference service follow server readiness; a model name follows that model.

import * as grpc from '@grpc/grpc-js';
import type { DataPlane } from '../../dataplane.js';
import { grpc as g } from '../../generated/proto.js';
import { toServiceError } from './service.js';
import { DecodeFailure } from './definitions.js';
import { InferenceError, invalidArg } from '../../core/errors.js';

const Status = g.health.v1.HealthCheckResponse.ServingStatus;
const SERVER_SERVICES = new Set(['', 'inference.GRPCInferenceService', 'Predictor']);

export function servingStatus(dp: DataPlane, service: string): number | undefined {
  if (SERVER_SERVICES.has(service)) return dp.ready() ? Status.SERVING : Status.NOT_SERVING;
  if (dp.modelReady(service)) return Status.SERVING;
  return dp.knowsModel(service) ? Status.NOT_SERVING : undefined;
}

export function healthImpl(dp: DataPlane) {
  return {
    Check(call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const req = call.request;
      if (req instanceof DecodeFailure) return callback(toServiceError(invalidArg(req.message)));
      const service = (req as g.health.v1.HealthCheckRequest).service ?? '';
      const status = servingStatus(dp, service);
      if (status === undefined) return callback(toServiceError(new InferenceError('NOT_FOUND', `unknown service or model '${service}'`)));
      callback(null, g.health.v1.HealthCheckResponse.create({ status }));
    },
    Watch(call: grpc.ServerWritableStream<unknown, unknown>) {
      const req = call.request;
      if (req instanceof DecodeFailure) {
        call.destroy(toServiceError(invalidArg(req.message)));
        return;
      }
      const service = (req as g.health.v1.HealthCheckRequest).service ?? '';
      let last: number | undefined = -1;
      const send = () => {
        const now = servingStatus(dp, service) ?? Status.SERVICE_UNKNOWN;
        if (now !== last) {
          last = now;
          call.write(g.health.v1.HealthCheckResponse.create({ status: now }));
        }
      };
      send();
      const off = dp.onStateChange(send);
      call.on('cancelled', off);
      call.on('close', off);
    },
  };
}
