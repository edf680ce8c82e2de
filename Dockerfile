# Duet's image: a CPU inference server on Node LTS (README "Deploying").
#   docker build -t duet .
#   docker run -p 8080:8080 -p 8081:8081 -p 8082:8082 -v "$PWD/models:/mnt/models:ro" duet
# Flags after the image name are added to `duet serve`; every flag also has a DUET_* variable.
ARG NODE_IMAGE=node:24-bookworm-slim

# Build: every dependency (tsc, pbjs), the protobuf stubs, dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# CPU only: onnxruntime-node ships its CPU library in the npm package; its install script would only
# download the CUDA provider, which needs a CUDA base image to be of any use.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY . .
RUN npm ci --no-audit --no-fund && npm run build \
 && mkdir /manifests && cp package.json package-lock.json /manifests/ \
 && if [ -d packages ]; then cp -r packages /manifests/; fi

# Runtime: production dependencies and dist/ only, as uid 1000.
FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
# The manifests (and any workspace packages) first, so a code change reuses the dependency layer.
COPY --from=build /manifests/ ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
# KServe mounts the model repository at /mnt/models; listen on every interface inside the container.
# TypeScript models there (outside /app) that import a package find Duet's own node_modules by themselves.
# A larger young generation halves the main thread's GC under load (src/core/node-flags.ts).
ENV NODE_OPTIONS=--max-semi-space-size=32
ENV DUET_MODEL_REPOSITORY=/mnt/models \
    DUET_HOST=0.0.0.0 \
    DUET_HTTP_PORT=8080 \
    DUET_GRPC_PORT=8081 \
    DUET_METRICS_PORT=8082
RUN mkdir -p /mnt/models && chown 1000:1000 /mnt/models
USER 1000:1000
EXPOSE 8080 8081 8082
# No curl in the slim image: Node asks /v2/health/ready itself (plain HTTP; with --tls-cert use an exec probe of your own).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.DUET_HTTP_PORT || 8080) + '/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, no npm or shell in between: SIGTERM reaches Node, which drains and exits (--shutdown-grace-secs).
ENTRYPOINT ["node", "dist/src/cli/main.js", "serve"]
